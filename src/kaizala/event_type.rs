//! The 13 Kaizala event types, each named once: its wire name, family, label and the summary
//! reader for its `data`.

use super::Family;

/// A documented Kaizala event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    ActionCreated,
    ActionResponse,
    SurveyCreated,
    JobCreated,
    SurveyResponse,
    JobResponse,
    TextMessageCreated,
    AttachmentCreated,
    Announcement,
    MemberAdded,
    MemberRemoved,
    GroupAdded,
    GroupRemoved,
}

/// How a summary reads an event's `data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    Message,
    Attachment,
    Announcement,
    JobCreated,
    JobResponse,
    /// Actions and surveys: `responseDetails` and the questions.
    Response,
    Member,
    /// No documented shape: `data` is shown as it came.
    Raw,
}

impl EventType {
    /// Every type, in the order Kaizala's documentation lists them.
    pub const ALL: [EventType; 13] = [
        EventType::ActionCreated,
        EventType::ActionResponse,
        EventType::SurveyCreated,
        EventType::JobCreated,
        EventType::SurveyResponse,
        EventType::JobResponse,
        EventType::TextMessageCreated,
        EventType::AttachmentCreated,
        EventType::Announcement,
        EventType::MemberAdded,
        EventType::MemberRemoved,
        EventType::GroupAdded,
        EventType::GroupRemoved,
    ];

    /// The type a payload's `eventType` names, if it is a documented one.
    pub fn parse(name: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// The name on the wire (`eventType`, and registrations' `eventTypes`).
    pub fn name(self) -> &'static str {
        self.facts().0
    }

    /// For a person: what the event is.
    pub fn label(self) -> &'static str {
        self.facts().1
    }

    /// The family, which picks the badge colour.
    pub fn family(self) -> Family {
        self.facts().2
    }

    /// How its summary reads `data`.
    pub fn reader(self) -> Reader {
        self.facts().3
    }

    fn facts(self) -> (&'static str, &'static str, Family, Reader) {
        use EventType::*;
        use Family::*;
        match self {
            ActionCreated => ("ActionCreated", "Action created", Actions, Reader::Response),
            ActionResponse => (
                "ActionResponse",
                "Action response",
                Actions,
                Reader::Response,
            ),
            SurveyCreated => ("SurveyCreated", "Survey created", Actions, Reader::Response),
            JobCreated => ("JobCreated", "Job created", Jobs, Reader::JobCreated),
            SurveyResponse => (
                "SurveyResponse",
                "Survey response",
                Actions,
                Reader::Response,
            ),
            JobResponse => ("JobResponse", "Job response", Jobs, Reader::JobResponse),
            TextMessageCreated => (
                "TextMessageCreated",
                "Text message",
                Messages,
                Reader::Message,
            ),
            AttachmentCreated => (
                "AttachmentCreated",
                "Attachment",
                Messages,
                Reader::Attachment,
            ),
            Announcement => (
                "Announcement",
                "Announcement",
                Messages,
                Reader::Announcement,
            ),
            MemberAdded => ("MemberAdded", "Member added", Membership, Reader::Member),
            MemberRemoved => (
                "MemberRemoved",
                "Member removed",
                Membership,
                Reader::Member,
            ),
            GroupAdded => ("GroupAdded", "Group added", Groups, Reader::Raw),
            GroupRemoved => ("GroupRemoved", "Group removed", Groups, Reader::Raw),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_is_found_by_its_name_and_names_are_distinct() {
        for kind in EventType::ALL {
            assert_eq!(EventType::parse(kind.name()), Some(kind));
            assert_ne!(kind.family(), Family::Unknown);
        }
        let mut names: Vec<&str> = EventType::ALL.iter().map(|kind| kind.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 13);
        assert_eq!(EventType::parse("textmessagecreated"), None);
        assert_eq!(EventType::parse("ChatCreated"), None);
    }
}
