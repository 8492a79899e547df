//! Fuzz target: a bin's settings as a client sends them: JSON through `PUT .../settings`, and
//! the form. Whatever is accepted is valid, and survives its stored form unchanged.
#![no_main]

use binspector::settings::{form::SettingsForm, Settings};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let current = Settings::for_new_bin();
    if let Ok(value) = serde_json::from_slice(bytes) {
        if let Ok(settings) = Settings::from_client(value, &current) {
            assert_eq!(settings.validate(), Ok(()));
            assert_eq!(Settings::from_stored(&settings.to_stored()), settings);
        }
    }
    if let Ok(form) = serde_urlencoded::from_bytes::<SettingsForm>(bytes) {
        if let Ok(settings) = form.read() {
            assert_eq!(settings.validate(), Ok(()));
            let shown = SettingsForm::of(&settings);
            // What the form shows reads back the same (a new token is made only on request).
            assert_eq!(shown.read(), Ok(settings));
        }
    }
});
