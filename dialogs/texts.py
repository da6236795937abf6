"""Every sentence a person reads from the bot, in one place, so tone and wording stay consistent.

Written for a practitioner on a phone between visits: short, plain, and always saying what to do.
"""

from __future__ import annotations

# validation
REQUIRED = "This is needed."
NOT_A_DATE = "'{value}' is not a date. Give an actual date, for example 04/12/2026."
BAD_DATE = "'{value}' is not a date I can read. Use DD/MM/YYYY, for example 04/12/2026."
BAD_YES_NO = "Answer yes or no."
BAD_CHOICE = "Pick one of: {options}."
BAD_NUMBER = "Give a whole number, for example 2."
BAD_EMAIL = "Give their work email address, for example sam.lee@agency.example."
NOT_IN_DIRECTORY = (
    "{email} is not in the partnership's directory. Check the address, or ask your business "
    "team to add them."
)
DOB_IN_FUTURE = "A date of birth cannot be in the future."
ACTION_PREFIX = "Action {n}: "
ACTION_NEEDS_DESCRIPTION = "Action {n}: say what will be done."
ACTION_NEEDS_OWNER = "Action {n}: say who will do it."
ACTION_NEEDS_DATE = (
    "Action {n}: give the actual date it will be done by (not 'ASAP'), for example 04/12/2026."
)
ACTION_DATE_PAST = "Action {n}: {due} has already passed; give a date from today on."
RECORD_NEEDS_SUMMARY = (
    "Summarise what was discussed: each agency's view and the impact on the child."
)
ESCALATE_NEEDS_UNRESOLVED = "Say what remains unresolved, so the next tier can pick it up."
RAISER_IS_COUNTERPART = "You cannot raise a difference with yourself: name the other professional."
COUNTERPART_OTHER_PARTNERSHIP = (
    "{email} works in another partnership; this procedure cannot reach them."
)

# refusals
CASE_NOT_FOUND = "I can't find case {case}. Check the reference with `status`."
CORRECTS_UNKNOWN = "There is no entry {entry} in this case's record to correct."
CASE_NOT_KNOWN = "I can't find that case. Check the reference with `status`."
NOT_A_PARTY = (
    "Only the people involved in case {reference} and the partnership's business team can see or "
    "act on it."
)
ROLE_MAY_NOT = "Only {roles} can do that on case {reference}."
STALE = (
    "Case {reference} has changed since this was shown to you (it is now at stage {stage}, "
    "{status}). Nothing was changed. Here is where it stands now."
)
CLOSED = "Case {reference} is closed ({status}). Nothing was changed."
LAST_STAGE = (
    "Case {reference} is at the last stage ({stage_name}): it cannot be escalated further. "
    "The decision there is made by {decider}."
)
NOT_FINAL_STAGE = (
    "A final decision is recorded only at stage {final}; case {reference} is at stage {stage}."
)
NO_SUCH_STEP = "Stage {stage} of case {reference} has no open step '{step}'."
LATER_START_NOT_ALLOWED = (
    "This procedure always starts at stage 1. If the child is at immediate risk, follow the "
    "guidance: {action}"
)
LATER_START_STAGE = "Under this procedure you may start at stage {allowed}, not stage {asked}."
AT_RISK_STARTS_AT = (
    "Under this procedure a case at immediate risk starts at stage {start}, not stage {asked}."
    " Do this now: {action}"
)
LATER_START_NEEDS_RISK = "Starting at a later stage is only for a child at immediate risk."
PATHWAY_SIGNPOST = "This procedure is not the right route: {signpost}"
PATHWAY_REQUIRED = "First say which route fits: {options}."
HANDOVER_SELF = "Hand over to someone else, not to yourself."
HANDOVER_OTHER_AGENCY = (
    "{email} works for {agency}. Hand over to a colleague in your own agency, so each agency "
    "keeps its voice in the case."
)
SAME_AGENCY = (
    "{email} works in your own agency. This procedure is for differences between agencies; "
    "use your agency's own escalation route for this one."
)
HANDOVER_OTHER_PARTNERSHIP = "{email} is not in this partnership; hand over to a colleague in it."
ALREADY_PARTY = "{email} is already involved in case {reference}."
UNKNOWN_PARTNERSHIP = "Unknown partnership '{partnership}'."
WITHDRAW_NEEDS_REASON = "Say why the concern is withdrawn; it is kept on the record."
DECISION_NEEDS_TEXT = "Write the decision, so every agency has it in the same words."
DUPLICATE_ACK = "You had already acknowledged case {reference}. Nothing was changed."

# headlines (cards and channel alerts); no child data in any headline
RAISED_CONFIRM = "Case {reference} raised: {counterpart} {when}."
TOLD_NOW = "is being told now"
TOLD_LATER = "will be told at {at} (outside working hours now)"
# immediate risk: the raiser's card and reply, then the urgent message to whom the pack names
RISK_DO_NOW = "Do this now: {action}"
RISK_TOLD = "Told now, as urgent: {names}."
RISK_NOBODY_TOLD = "Nobody could be found to tell now: the business team has been alerted."
RISK_URGENT = (
    "Urgent: {raiser} ({agency}) says a child in case {reference} may be at immediate risk"
)
RISK_URGENT_TEXT = (
    "They have been told to do this now: {action} Please speak to them straight away."
)
CHANNEL_RISK_NOBODY = (
    "Urgent: case {reference} is at immediate risk and nobody is known to tell at once"
    " ({who}); please contact the raising agency now"
)
ALREADY_RAISED = (
    "This form was already sent: it is case {reference}, shown below. Nothing new was raised."
    " To raise another concern, type escalate for a new form."
)
RAISED_FOR_COUNTERPART = "{raiser} ({agency}) has raised a professional difference with you"
STAGE_PROMPT = "Case {reference}: stage {stage}, {stage_name}, is yours"
MOVED_ON = "Case {reference} moved to stage {stage}, {stage_name}"
CHANNEL_RAISED = "New professional difference {reference}: stage {stage}"
CHANNEL_ESCALATED = "Case {reference} escalated to stage {stage}, {stage_name}"
CHANNEL_LAPSED = (
    "Case {reference}: stage {previous} deadline lapsed; now stage {stage}, {stage_name}"
)
CHANNEL_RESOLVED = "Case {reference} resolved at stage {stage}"
CHANNEL_DECIDED = "Case {reference}: the {word} was recorded at stage {stage}"
CHANNEL_WITHDRAWN = "Case {reference} withdrawn at stage {stage}"
CHANNEL_TIER_EMPTY = "Case {reference}: nobody is known for {role} at {agency}; please help"
CHANNEL_STEP_LAPSED = "Case {reference}: '{step}' is overdue"
CHANNEL_OVERDUE = "Case {reference}: the partnership's decision at stage {stage} is overdue"
ASK_FOR_NAME = (
    "Case {reference} needs a {role} from {agency} for stage {stage}, and I don't know who that "
    "is. Add them with `add {reference} their.email@agency` (the business team has been told)."
)
REMINDER = "Reminder: case {reference}, stage {stage}, is due today at {due}"
STEP_REMINDER = "Overdue: '{step}' on case {reference} was due {due}"
STEP_YOURS = "Case {reference}: '{step}' is now yours"
# a stage or step the pack says to prompt "immediately": sent at once, at any hour, flagged urgent
STEP_NOW = "Now: case {reference}: '{step}' is yours, due {due} ({within})"
STAGE_NOW = "Now: case {reference}: stage {stage}, {stage_name}, is yours, due {due} ({within})"
# an allowance as the pack gives it: "within 2 working days", "within 48 working hours"
ALLOWANCE_WITHIN = "within {amount} {unit}"
ALLOWANCE_SAME_DAY = "the same working day"
ALLOWANCE_UNITS = {
    "working_days": ("working day", "working days"),
    "working_hours": ("working hour", "working hours"),
    "elapsed_hours": ("hour, day or night", "hours, day or night"),
}
DUE_WITHIN = "{due} ({within})"
RESOLVED_FOR_PARTY = "Case {reference} resolved at stage {stage}"
DECIDED_FOR_PARTY = "Case {reference}: the partnership's {word}"
WITHDRAWN_FOR_PARTY = "Case {reference} has been withdrawn"
HANDED_TO_YOU = "{from_name} has handed case {reference} to you"
ADDED_TO_CASE = "You have been added to case {reference}"
COPY_OF_RECORD = "Copy of the record for case {reference}, stage {stage}"
FORM_TO_SEND = "{form} for case {reference}"
RECORD_SAVED = "Stage {stage} record for case {reference} saved."
ACKNOWLEDGED = "{name} has acknowledged case {reference}"
ESCALATED_WITHIN = "Case {reference}: {step} now"

# card sections
PRINCIPLES = "Principles"
# ---- the written record on cards
RECORD_STAGE_TITLE = "Record, stage {stage}: {name} · {dates}"
RECORD_NOW = "now"
RECORD_HELD_BY = "Held by {people}"
RECORD_NOTHING_YET = "Nothing recorded at this stage yet."
RECORD_DISCUSSION = "{day}, {who}, recorded:"
RECORD_RESOLUTION = "{day}, {who}, recorded the agreed resolution:"
RECORD_UNRESOLVED = "{day}, {who}, escalated. What remains unresolved:"
RECORD_STEP_DONE = "{day}, {who}, did:"
RECORD_DECISION = "{day}, {who}, recorded the {word}:"
RECORD_ROUTE_CHOSEN = "{day}, {who}, chose the way on:"
# a stage's route question (routes: in the pack): who answers it, what was answered
ROUTE_CHOSEN_BY = "Chosen by {who}."
ROUTE_CHOOSER_ROLE = "the {role}"
ROUTE_CHOOSER_SIDE = {"raising": "the raising agency", "receiving": "the receiving agency"}
ROUTE_CHOOSER_ANY = "any party to the case"
ROUTE_NEEDED = "Answer '{question}' so the bot knows which way the case goes."
ROUTE_NOT_YOURS = (
    "Case {reference}: '{question}' is for {who} to answer (or the business team), so only they"
    " can escalate from this stage."
)
ROUTE_ENTRY = "{question} {answer}: on to stage {stage}."
ROUTE_DEFAULT_ENTRY = (
    "{question} Nobody chose before the stage's deadline, so the procedure's default applies:"
    " {answer}, on to stage {stage}."
)
RECORD_CORRECTS = "(corrects {entry})"
RECORD_ACTION = "• {what}: {who}, by {due}"
RECORD_SHORTENED = (
    "… [shortened here: the whole text is in the case's record form, which your business team"
    " can produce with `escalation-bot record {reference}`]"
)
RECORD_FOLDED = (
    "{count} lines of this stage are left off this card to keep it readable; `show {reference}`"
    " has the latest, and the case's record form (`escalation-bot record {reference}`, from your"
    " business team) has everything."
)
LEFT_UNRESOLVED = "Where the last stage left it"
BRING = "What the procedure asks of this stage"
OUTCOME_RESOLUTION = "Agreed resolution"
OUTCOME_DECISION = "{word}"
QUESTIONS = "Questions to work through"
METHODS = "How to meet"
TOOLS = "Helpful tools"
RECORDING = "Recording"
ON_LAPSE = "If nothing is agreed by {due}, the bot escalates to stage {next} by itself."
ON_LAPSE_ROUTE = (
    "{question} {who} answers when escalating. If nothing is agreed or chosen by {due}, the bot"
    " takes '{default}' to stage {next} by itself."
)
ON_LAPSE_FINAL = "The decision at this stage is final and binding for every agency."

BUTTON_ACK = "Acknowledge"
BUTTON_RESOLVE = "Record agreed resolution"
BUTTON_ESCALATE = "Cannot agree: escalate"
BUTTON_HANDOVER = "Hand over"
BUTTON_RECORD = "Record discussion"
BUTTON_STEP_DONE = "Mark done: {step}"
BUTTON_DECIDE = "Record final decision"

# chat conversations
HELP = (
    "**escalate**: raise a professional difference about a child with another agency.\n"
    "**status**: your open cases and what is due from you, with a button to open each one.\n"
    "**show REF**: a case's card again, for example `show NB-0001`.\n"
    "**history REF**: everything that has happened on a case, in order.\n"
    "**ack REF**: acknowledge a case.\n"
    "**record REF**: record a discussion at the current stage.\n"
    "**resolve REF**: record an agreed resolution.\n"
    "**escalate REF**: you cannot agree: move the case to the next tier.\n"
    "**decide REF**: record the partnership's final decision (final stage only).\n"
    "**done REF STEP**: mark a step done (STEP: its number or name; add `agreed` or"
    " `not agreed` where the step asks).\n"
    "**done REF ACTION**: an agreed action (for example 2.1.1, as on the card) is done.\n"
    "**notyet REF ACTION DATE WHY**: it is not done yet: its new date (for example 14/12/2026)"
    " and why.\n"
    "**handover REF**: hand your part to a colleague.\n"
    "**add REF EMAIL**: bring someone into the case.\n"
    "**withdraw REF**: withdraw the concern.\n"
    "**help**: this message.\n"
    "REF is a case reference such as NB-0001. The buttons on a case's card do the same; "
    "you can also type `cancel` or `back` while I'm asking questions."
)
# typed case commands (dialogs/typed_commands.py): the right shape when a line lacks a part
TYPED_USAGE = {
    "ack": "To acknowledge, type `ack {reference}` and nothing after it.",
    "record": "To record a discussion, type `record {reference}`; I then ask the questions.",
    "resolve": "To record a resolution, type `resolve {reference}`; I then ask the questions.",
    "escalate": "To escalate, type `escalate {reference}`; I then ask what remains unresolved.",
    "decide": "To record the final decision, type `decide {reference}`; I then ask the"
              " questions.",
    "handover": "To hand over, type `handover {reference}`; I then ask to whom and why.",
    "withdraw": "To withdraw the concern, type `withdraw {reference}`; I then ask why.",
    "add": "To bring someone in, type `add {reference}` and their work email, for example"
           " `add {reference} name@agency.example`.",
    "notyet": "Type `notyet {reference}`, the action's number as on the card, its new date and"
              " why, for example `notyet {reference} 2.1.1 14/12/2026 waiting for the report`.",
    "done": "Type `done {reference}` and a step's number or name, or an agreed action's number"
            " as on the card (for example 2.1.1).",
}
TYPED_USAGE_LOOK = {
    "show": "To see a case, type `show {reference}`.",
    "history": "To see what happened on a case, type `history {reference}`.",
}
TYPED_NEEDS_REFERENCE = " REF is the case's reference, such as NB-0001: `status` lists yours."
DIALOG_CANCELLED = "Cancelled. Nothing changed."
NO_EARLIER_QUESTION = "This is the first question: answer it, or type `cancel` to stop."
NOT_CAUGHT = "I didn't catch that. "
NO_OPEN_CASES = "You have no open cases."
STATUS_TITLE = "Your open cases"
STATUS_YOUR_MOVE = " (your move)"
STATUS_ACTIONS_WAITING = "; agreed action {actions} waiting for an answer"
STATUS_LINE = "stage {stage}, {stage_name}; due {due}{yours}"
BUTTON_OPEN = "Open {reference}"
STATUS_OLDER_CASES = (
    "You have more open cases than these {shown} most recent; each older one is on the case "
    "card its last message brought you, or type `show` and its reference."
)
STATUS_MORE_CASES = (
    "The buttons open your {shown} most recent cases; for the others type `show` and the "
    "reference, for example `show {example}`."
)
HISTORY_TITLE = "History of case {reference}"
HISTORY_HEADING = "What happened, oldest first"
HISTORY_LINE = "{when} — {who} — {what}"
HISTORY_WHO = "{name} ({agency})"
HISTORY_THE_BOT = "the bot"
HISTORY_UNKNOWN_PERSON = "someone no longer in the directory"
HISTORY_EMPTY = "Nothing has been recorded on this case yet."
HISTORY_EARLIER = (
    "{count} earlier events are not shown here, only the latest {shown}. Ask the partnership's "
    "business team for the case's whole history."
)
HISTORY_EARLIER_ONE = (
    "1 earlier event is not shown here, only the latest {shown}. Ask the partnership's business "
    "team for the case's whole history."
)
TEAMS_WELCOME = (
    "Hello. Type **escalate** to raise a professional difference with another agency about a "
    "child, **status** to see your cases, or **help**."
)
# someone not in the directory wrote to the bot (any platform; see dialogs.people)
STRANGER_GREETING = (
    "I don't know you yet: your email ({email}) is not in the safeguarding partnership's "
    "directory, so I can't raise or show cases for you. To be added, ask your agency's "
    "safeguarding lead or the partnership's business team to add you: your work email, name, "
    "agency, role and line manager. I have let the business team know you asked. Once you are "
    "added, write to me again."
)
STRANGER_GREETING_ANONYMOUS = (
    "I don't know you yet: I could not read your work email from your account, so I can't find "
    "you in the safeguarding partnership's directory. Ask your agency's safeguarding lead or "
    "the partnership's business team to add you, with your work email."
)
STRANGER_OTHER_ACCOUNT = (
    "Your email ({email}) is in the safeguarding partnership's directory, but with another "
    "{platform} account, so I can't act for this one. Ask the partnership's business team to "
    "correct your account in the directory. I have let them know you asked."
)
DIRECTORY_REQUEST_TITLE = "Someone asked to use the escalation bot"
DIRECTORY_REQUEST_TEXT = (
    "{name} ({email}) wrote to the bot on {platform} but is not in the directory. If they "
    "should use it, add them to the configuration or import them with `escalation-bot people "
    "import`. (Told once a day at most; nothing about any case was shared.)"
)
DIRECTORY_REQUEST_OTHER_ACCOUNT = (
    "{name} ({email}) wrote to the bot from a {platform} account other than the one the "
    "directory holds for them, so the bot did not act for it. If their account changed, correct "
    "it in the configuration or the import (or remove the old one); if not, someone else's "
    "account claims their address. (Told once a day at most; nothing about any case was shared.)"
)
DIRECTORY_REQUEST_NO_NAME = "Someone"
# people import (bot/people.py)
PEOPLE_IMPORTED = (
    "{file}: imported {total} people - {added} added, {updated} updated, {unchanged} unchanged"
)
PEOPLE_IMPORT_CONFIGURED = (
    "{count} row(s) name people in the configuration ({config}); they are left as configured "
    "there: {emails}"
)
PEOPLE_IMPORT_REFUSED = "{file}: nothing imported - {count} problem(s); fix them and run it again:"
TEAMS_GROUP_REFUSAL = (
    "To keep the child's details private I only handle cases in a 1:1 chat. Open a chat with me "
    "and type **escalate** there. Alerts to this channel never name the child."
)
# forms as files in a Teams 1:1 chat (file consent cards); none of these names the child
TEAMS_FILE_DESCRIPTION = (
    "{form} for case {reference} ({format}). It holds a child's personal data: Allow saves it to "
    "your OneDrive; file it on the child's record only."
)
TEAMS_FILE_HOW_TO_GET = (
    "Ask your partnership's business team for a copy of the form for case {reference} (they "
    "produce it with `escalation-bot record {reference}`, as PDF or Word)."
)
TEAMS_FILE_DECLINED = "The file was not saved. " + TEAMS_FILE_HOW_TO_GET
TEAMS_FILE_NOT_UPLOADED = "I could not save the file to your OneDrive. " + TEAMS_FILE_HOW_TO_GET
TEAMS_FILE_NOT_SENT = "The form cannot be sent as a file in Teams. " + TEAMS_FILE_HOW_TO_GET
# Slack (the same conversation as Teams; these say only what differs there)
SLACK_NOT_KNOWN = (
    "I don't know you yet: the email address on your Slack profile is not in the partnership's"
    " directory. Ask your business team to add you."
)
SLACK_FILE_NOT_SENT = "Forms are not sent as files in Slack. " + TEAMS_FILE_HOW_TO_GET
SLACK_CUT_SHORT = (
    "Some of the earlier record is not shown here: Slack limits how long a message can be. Your"
    " partnership's business team can give you the whole record."
)
SLACK_MODAL_TITLE = "Escalation"  # Slack allows 24 characters in a modal's title
SLACK_MODAL_CLOSE = "Cancel"
SLACK_HOME_NOT_KNOWN = SLACK_NOT_KNOWN
SLACK_CHANNEL_ONLY_DM = (
    "To keep the child's details private I only answer about cases in our direct messages:"
    " I have replied there."
)
APOLOGY = "Sorry, something went wrong on my side and nothing was changed. Please try again."
FIX_THE_CARD = "Please check the highlighted fields."
INTAKE_TITLE = "Raise a professional difference ({policy})"
IMMEDIATE_RISK_HEADING = "If the child is at immediate risk"
SPECIAL_ROUTES_HEADING = "Not for this procedure"
BUTTON_SEND = "Send"
BUTTON_BACK = "Back to the case"
PURPOSE_TITLES = {
    "record": "record the discussion",
    "resolve": "record the agreed resolution",
    "escalate": "cannot agree: escalate",
    "decide": "record the final decision",
    "handover": "hand over",
    "withdraw": "withdraw the concern",
}
CHANNEL_DELIVERY_FAILED = (
    "Case {reference}: a message to {who} could not be delivered ({reason}); please make sure "
    "they are told"
)

# email: a subject is read where the message is not (lock screens, mail server logs), so it
# carries the case reference, the stage and what happened, and never a child's details
EMAIL_SUBJECT = "[{reference}] {what}"
EMAIL_SUBJECT_URGENT = "Urgent: {what}"
EMAIL_SUBJECT_WHAT = {
    "immediate-risk": "Stage {stage}: a case at immediate risk needs you now",
    "stage-prompt": "Stage {stage} is yours",
    "moved-on": "Moved to stage {stage}",
    "raised-counterpart": "Stage {stage}: a professional difference has been raised with you",
    "raised-confirm": "Stage {stage}: your concern has been raised",
    "reminder": "Stage {stage} is due today",
    "step-prompt": "Stage {stage}: a step is yours",
    "step-now": "Stage {stage}: a step needs you now",
    "step-moved": "Stage {stage}: a step has moved on",
    "step-lapsed": "Stage {stage}: a step is overdue",
    "resolved": "Resolved at stage {stage}",
    "decided": "Stage {stage}: the final outcome",
    "withdrawn": "Withdrawn at stage {stage}",
    "handed-over": "Stage {stage}: the case has been handed to you",
    "added": "Stage {stage}: you have been added to the case",
    "tier-empty": "Stage {stage}: the next manager is not known",
    "delivery-failed": "Stage {stage}: a message could not be delivered",
}
EMAIL_SUBJECT_FORM = "Stage {stage}: {form}"
EMAIL_SUBJECT_OTHER = "Stage {stage}: an update on the case"
EMAIL_SUBJECT_NO_STAGE = "An update on the case"
EMAIL_ATTACHED = "Attached: {files}."
EMAIL_ATTACHED_CARE = (
    "The attached form holds the child's details: file it on the child's record and do not "
    "forward it."
)
EMAIL_FOOTER = (
    "Sent by the partnership's escalation bot. Replies to this address are not read: to act on "
    "case {reference}, use the bot in your chat, or contact the partnership's business team."
)

# why an email was not delivered: in the case's history and the business team's alert, so never
# anything from the message itself (an email address is fine; it is not the child's)
EMAIL_NOT_CONFIGURED = (
    "no email server is configured, so {who} got nothing; the IT admin sets "
    "ESCALATION_BOT_SMTP_URL"
)
EMAIL_REFUSED = "the email server refused it ({code} {detail})"
EMAIL_REFUSED_MESSAGE = "the email server refused the message ({code}{status})"
EMAIL_UNREACHABLE = "the email server could not be reached ({error})"
EMAIL_TIMEOUT = "the email server did not answer in time"
EMAIL_AUTH = (
    "the email server refused the bot's user name or password ({code}); the IT admin checks "
    "ESCALATION_BOT_SMTP_USER and ESCALATION_BOT_SMTP_PASSWORD"
)
EMAIL_TLS = (
    "a secure connection to the email server failed ({error}); the IT admin checks the "
    "server's certificate and ESCALATION_BOT_SMTP_URL"
)
EMAIL_UNUSABLE = "the email server cannot be used as configured ({error})"
EMAIL_NOT_AN_ADDRESS = "'{address}' is not an email address"
EMAIL_FORM_NOT_DRAWN = "the attached form could not be produced ({error})"

# delivery retries, as the history and the business team read them
DELIVERY_RETRYING = "{reason}; try {attempt} of {attempts}, the next in {minutes} min"
DELIVERY_GAVE_UP = "{reason}; gave up after {attempts} tries"
DELIVERY_BROKE = "the bot failed while sending it ({error})"

# the partnership's forms as documents (DOCX and PDF)
DOCUMENT_PRIVACY = (
    "This document contains a child's personal data. File it on the child's record only; do not "
    "forward it or keep other copies."
)
DOCUMENT_BLANK = "—"  # an empty answer, shown rather than left out
DOCUMENT_REFERENCE = "Case reference"
DOCUMENT_STAGE = "Stage"
DOCUMENT_PRODUCED = "Produced"
DOCUMENT_COLOUR = "Colour: {colour}"  # printed in words too: a black-and-white copy loses the band
DOCUMENT_PAGE = "Page {page} of {pages}"
DOCUMENT_CONTINUED = "{title} (continued)"
DOCUMENT_UNSHOWN_CHARACTERS = (
    "Some characters cannot be drawn in this PDF's font and are shown as {mark}. The DOCX copy of "
    "this form holds the exact text."
)
DOCUMENT_FONT_MISSING = (
    "The PDF font DejaVu Sans ({files}) was not found in {places}. Install Debian's {package} "
    "package (apt-get install {package}), then try again."
)

# the report on the procedure's use (`escalation-bot report`, and the scheduled one)
REPORT_TITLE = "How the procedure was used"
REPORT_TITLE_AGENCY = "How the procedure was used: {agency}"
REPORT_PERIOD = "Cases raised {start} to {end}"
REPORT_PRODUCED = "Produced {at}"
REPORT_POLICY = "Procedure: {policy}"
REPORT_FOR = "For: {audience}"
REPORT_HEADLINE = "In brief"
REPORT_CASES = "Cases raised"
REPORT_OPEN = "Still open"
REPORT_RESOLVED = "Resolved"
REPORT_DECIDED = "Final decision recorded"
REPORT_WITHDRAWN = "Withdrawn"
REPORT_MEDIAN = "Median working days to resolve"
REPORT_P90 = "90th percentile, working days to resolve"
REPORT_NONE = "none resolved"
REPORT_BY_AGENCY = "Cases by agency"
REPORT_AGENCY = "Agency"
REPORT_RAISED_BY = "Raised by"
REPORT_RECEIVED_BY = "Raised with"
REPORT_MISSED_ON = "Deadlines missed on its cases"
REPORT_BY_REASON = "Cases by reason"
REPORT_REASON = "Reason"
REPORT_REASON_NOT_LISTED = "Not in the procedure's list"
REPORT_COUNT = "Cases"
REPORT_STAGES = "Stages"
REPORT_STAGE = "Stage"
REPORT_STAGE_LABEL = "Stage {number}: {name}"
REPORT_STAGE_SHORT = "Stage {number}"
REPORT_REACHED = "Highest stage reached"
REPORT_RESOLVED_AT = "Resolved at this stage"
REPORT_MET = "Deadline met"
REPORT_MISSED = "Deadline missed"
REPORT_TIME = "Time to resolve"
REPORT_DAYS = "Working days"
REPORT_ESCALATIONS = "Escalations"
REPORT_BY_PERSON = "By a person"
REPORT_BY_LAPSE = "By a lapsed deadline"
REPORT_HOW = "How"
REPORT_ACTIONS = "Agreed actions"
REPORT_ACTION_STATES = {
    "done_on_time": "Done by the date agreed",
    "done_late": "Done after the date agreed",
    "open_overdue": "Not done, past the date agreed",
    "open_not_due": "Not done, not yet due",
}
REPORT_STATE = "State"
REPORT_ACTIONS_COUNT = "Actions"
REPORT_REFLECTIONS = "What people said about the process"
REPORT_NO_REFLECTIONS = "No answers in this period."
REPORT_FINAL_STAGE = "Concerns that reached the final stage"
REPORT_FINAL_STAGE_NOTE = "For the annual report: every concern of the period that reached {stage}."
REPORT_REFERENCE = "Case"
REPORT_RAISED_ON = "Raised"
REPORT_REACHED_ON = "Reached the final stage"
REPORT_OUTCOME = "Now"
REPORT_OUTCOMES = {
    "open": "open",
    "resolved": "resolved",
    "final_decision": "final decision",
    "withdrawn": "withdrawn",
}
REPORT_CHART_STAGE_REACHED = "Highest stage reached"
REPORT_CHART_TIME = "Working days to resolve"
REPORT_CHART_REASONS = "Reasons, by month raised"
REPORT_CHART_DEADLINES = "Stage deadlines met and missed"
REPORT_MONTH = "Month raised"
REPORT_SUPPRESSED = "<5"
REPORT_SUPPRESSION_NOTE = (
    "In the tables by agency, a count from 1 to 4 is shown as <5, so that a few cases between two "
    "agencies cannot point to a child."
)
REPORT_PRIVACY_NOTE = (
    "No child's details are in this report: only counts, case references, dates, agencies and "
    "people's answers about the process, with any child's name or number taken out."
)
REPORT_CHART_EMPTY = "No cases to draw."
REPORT_SUMMARY_TITLE = "Report on the procedure's use: {start} to {end}"
REPORT_SUMMARY_TEXT = (
    "{cases} raised; {resolved} resolved (median {median} working days); {open} still "
    "open; {missed} missed. The full report has gone to {mailbox}."
)
REPORT_EMAIL_SUBJECT = "{partnership}: report on the procedure's use, {start} to {end}"
REPORT_ATTACHED = "The report is attached ({files}): it opens in any web browser, offline."
# `escalation-bot report`: what a wrong option says
REPORT_BAD_DATE = (
    "report: {option} '{value}' is not a date; fix: write it as YYYY-MM-DD, for example 2027-04-01."
)
REPORT_BAD_RANGE = "report: --from {start} is after --to {end}; fix: give --from the earlier date."
REPORT_BAD_PARTNERSHIP = (
    "report: --partnership '{value}' is not configured; fix: use one of {known}."
)
REPORT_BAD_AGENCY = (
    "report: --agency '{value}' is not an agency of {partnership}; fix: use one of {known}."
)
REPORT_NEEDS_FONT = "report: {reason}"
REPORT_NO_DATABASE = (
    "report: there is no database at {path}; fix: give --db the bot's SQLite file, or set "
    "ESCALATION_BOT_DATABASE."
)
REPORT_BAD_DATABASE = (
    "report: {path} cannot be read as the bot's database ({reason}); fix: give --db the bot's "
    "SQLite file."
)
REDIS_URL_BAD = (
    "ESCALATION_BOT_REDIS_URL={url} is not a Redis address ({reason}); fix: redis://HOST:PORT/DB,"
    " rediss://... for TLS, or unix:///path/to/redis.sock"
)
REDIS_URL_SCHEME = "it must start redis://, rediss:// or unix://"
REDIS_PREFIX_BAD = (
    "ESCALATION_BOT_REDIS_PREFIX={prefix!r} cannot be used: it must be non-empty and have no"
    " braces (they make the prefix the Cluster hash tag); fix: a name such as escalation"
)
REPORT_NO_REDIS = (
    "report: cannot use Redis at {url} ({reason}); fix: check ESCALATION_BOT_REDIS_URL and that "
    "Redis is running."
)
REPORT_CANNOT_WRITE = (
    "report: cannot write {path} ({reason}); fix: choose a folder you can write to."
)
REPORT_WROTE = "Wrote {path}"

# `escalation-bot record`: the business team's command on the server
RECORD_NO_DATABASE = (
    "record: there is no database at {path}. Give --db the bot's SQLite file, or set "
    "ESCALATION_BOT_DATABASE."
)
RECORD_BAD_DATABASE = (
    "record: {path} cannot be read as the bot's database ({reason}). Give --db the bot's SQLite "
    "file."
)
RECORD_NO_REDIS = (
    "record: cannot use Redis at {url} ({reason}). Check ESCALATION_BOT_REDIS_URL and that Redis "
    "is running."
)
RECORD_UNKNOWN_CASE = (
    "record: there is no case {reference} in {store}. Check the reference (for example NB-0001) "
    "and the database."
)
RECORD_UNKNOWN_FORM = "record: case {reference} has no form '{form}'. Use one of: {forms}."
RECORD_POLICY_HAS_NO_FORMS = (
    "record: case {reference} follows {policy}, which has no forms to produce."
)
RECORD_FORM_NOT_REACHED = (
    "record: case {reference} has not reached form '{form}' yet (it is at stage {stage}). Forms "
    "so far: {forms}."
)
RECORD_NO_FORMS_YET = (
    "record: case {reference} is at stage {stage} and has reached none of its forms yet; they "
    "start at later stages or once the case is resolved ({forms})."
)
RECORD_SEVERAL_FORMS = (
    "record: case {reference} has {count} forms ({forms}). Give --form with one of them, or give "
    "--out an existing folder to write them all."
)
RECORD_WRONG_SUFFIX = (
    "record: --out {path} ends in {suffix} but --format is {format}. Name the file .{format}, or "
    "change --format."
)
RECORD_CANNOT_WRITE = "record: cannot write {path} ({reason}). Choose a folder you can write to."
RECORD_WROTE = "wrote {path}"

# `escalation-bot audit`: the business team's commands on the server
AUDIT_NO_DATABASE = (
    "audit: there is no database at {path}. Give --db the bot's SQLite file, or set "
    "ESCALATION_BOT_DATABASE."
)
AUDIT_BAD_DATABASE = (
    "audit: {path} cannot be read as the bot's database ({reason}). Give --db the bot's SQLite "
    "file."
)
AUDIT_NO_REDIS = (
    "audit: cannot use Redis at {url} ({reason}). Check ESCALATION_BOT_REDIS_URL and that Redis "
    "is running."
)
AUDIT_UNKNOWN_CASE = (
    "audit: there is no case {reference} in {store}. Check the reference (for example NB-0001) "
    "and the database."
)
AUDIT_NO_PARTNERSHIP_CASES = (
    "audit: there is no case of partnership '{partnership}' in {store}. Check the id: it is the "
    "partnership's id in the configuration file, e.g. north-borough."
)
AUDIT_BREAK = "{reference}: {log} {number}{what_entry}: {what}"
AUDIT_BREAK_LOG = "{reference}: {log}: {what}"
AUDIT_BREAK_ENTRY = " ({type} at {at})"
AUDIT_VERIFIED = (
    "audit verify: {cases}, {events} and {reads} checked in {store}: every history is intact."
)
AUDIT_BROKEN = (
    "audit verify: {broken} of {cases} in {store} {have} a broken history (first break of "
    "each above); {events} and {reads} checked."
)
AUDIT_CANNOT_WRITE = "audit: cannot write {path} ({reason}). Choose a folder you can write to."
AUDIT_WROTE = "wrote {path}"
AUDIT_INTACT = "intact"
AUDIT_OPERATOR = "operating-system account {user}"
AUDIT_READ_SUMMARIES = {
    "show": "looked at the case (show)",
    "history": "looked at the case's history (history)",
    "card": "opened the case card",
    "document": "received a form with the child's details ({detail})",
}

# ---- agreed actions, followed up on their dates
RECORD_ACTION_ID = "• {id} {what}: {who}, by {due}"
RECORD_ACTION_DONE = " (done {day}, {who})"
RECORD_ACTION_MOVED = " (not yet: now due {due}; {reason})"
ACTION_ASK_TITLE = "Case {reference}: is agreed action {action} done?"
ACTION_LATE_TITLE = (
    "Case {reference}: agreed action {action} is still open two working days after its date"
)
ACTION_ASK_TEXT = (
    "Agreed at stage {stage} on {day}: {what} ({who}), by {due}. Press Done, or Not yet to give"
    " a new date and the reason."
)
CHANNEL_ACTION_LATE = (
    "Case {reference}: agreed action {action} (due {due}) is still open two working days after"
    " its date"
)
ACTION_DONE_REPLY = "Thank you: action {action} on case {reference} is marked done."
ACTION_NOT_YET_REPLY = "Noted: action {action} on case {reference} is now due {due}."
ACTION_DONE_FOR_RAISER = "Case {reference}: {who} says agreed action {action} is done"
ACTION_NOT_YET_FOR_RAISER = (
    "Case {reference}: {who} says agreed action {action} is not done yet; new date {due}"
)
ACTION_NOT_YET_WHY = "Why: {reason}"
ACTION_UNKNOWN = "Case {reference} has no agreed action {action}."
ACTION_ALREADY_DONE = (
    "Action {action} on case {reference} was already marked done on {day} by {who}."
    " Nothing was changed."
)
ACTION_MOVED = (
    "That question about action {action} on case {reference} is out of date: the action is now"
    " due {due}. Nothing was changed."
)
ACTION_NEEDS_NEW_DATE = "Give the new date it will be done by, for example 14/12/2026."
ACTION_NEW_DATE_PAST = "{due} has already passed; give a date from today on."
ACTION_NEEDS_REASON = "Say why it is not done yet; the raiser will read this."
ACTION_NOT_YET_TITLE = "Case {reference}: action {action} is not done yet"
ACTION_NEW_DUE_LABEL = "New date it will be done by"
ACTION_REASON_LABEL = "Why it is not done yet"
BUTTON_ACTION_DONE = "Done"
BUTTON_ACTION_NOT_YET = "Not yet"
BUTTON_ACTION_NAMED = "{button}: {action}"

# ---- what the pack says, where it matters
KEPT_ON_TITLE = "Where this record is kept"
KEPT_ON = "{who} records it; it is kept on: {where}."
PRINCIPLES_TITLE = "Principles of this procedure"
ROLE_IS = "A {role} here means: {description}"
DATA_DUTIES = "For the partnership's data: {duties}"
CARD_OR_TYPE = "Fill in the card, or answer here one question at a time."
# `escalation-bot policy` and `timeline`: the pack tooling a business manager runs
POLICY_LIST_BROKEN = (
    "{count} installed pack file(s) could not be loaded and are not listed above; a partnership"
    " that uses one cannot start until it is fixed:"
)
CONFIG_CHECK_UNUSED_BROKEN_PACK = (
    "note: {path} has {count} problem(s) and is not loaded; no partnership in this configuration"
    " uses it (`escalation-bot policy check {path}` lists them)"
)
POLICY_CHECK_OK = "{file}: OK - {id} v{version}, {stages} stages"
POLICY_NEW_BAD_ID = (
    "'{id}' cannot be a pack id: use lower-case letters, digits, '-' or '_' (at most 64),"
    " starting with a letter or digit, e.g. coastal-scp"
)


def counted(amount: int, one: str, many: str | None = None) -> str:
    """"1 case", "2 cases", "0 stage deadlines": a count with its noun agreeing."""
    return f"{amount} {one if amount == 1 else (many or one + 's')}"


def allowance_words(amount: int, unit: str) -> str:
    """An allowance in the words a person reads: "within 1 working hour", "within 24 hours, day
    or night", "the same working day". A function only because of the plural."""
    if amount == 0 and unit == "working_days":
        return ALLOWANCE_SAME_DAY
    one, many = ALLOWANCE_UNITS[unit]
    return ALLOWANCE_WITHIN.format(amount=amount, unit=one if amount == 1 else many)


# steps that ask an outcome, branch on it, and send an outcome letter (issue 9)
OUTCOME_WORDS = {"agreed": "Agreed", "not_agreed": "Not agreed"}
STEP_OUTCOME_QUESTION = "Agreed?"
STEP_OUTCOME_TITLE = "Case {reference}: '{step}' done. Was it agreed?"
STEP_OUTCOME_TYPE = (
    "Choose on the card, or answer here: 1 or yes for Agreed, 2 or no for Not agreed."
)
STEP_OUTCOME_CARD_ONLY = "Choose Agreed or Not agreed on the card."
STEP_OUTCOME_NEEDED = "Say whether '{step}' ended in agreement: Agreed or Not agreed."
STEP_OUTCOME_NOT_ASKED = "'{step}' does not ask for an outcome; mark it done without one."
STEP_OUTCOME_NOT_CAUGHT = "Please answer 1 (or yes) for Agreed, or 2 (or no) for Not agreed."
STEP_DONE_REPLY = "Done: {step}."
STEP_DONE_OUTCOME = "{step}: {outcome}"
STEP_DONE_OUTCOME_REPLY = "Done: {step} ({outcome})."
STEP_SKIPPED_BECAUSE = "'{step}' was {outcome}"
STEP_ALREADY_DONE = (
    "Stage {stage} of case {reference} has no open step '{step}': it was marked done by {who}"
    " on {day}. Nothing was changed."
)
STEP_NOT_NEEDED = (
    "Stage {stage} of case {reference} has no open step '{step}': it is not needed on this"
    " case, as {because}. Nothing was changed."
)
STEP_SKIPPED_FACT = "{step}: not needed ({because})"
WHICH_STEP = "Which step? Type `done {reference}` and its number or name: {steps}."
NO_STEP_TO_MARK = "Stage {stage} of case {reference} has no open step to mark done."
STEP_OUTCOME_PROMPT = "Agreed?\n1. Agreed\n2. Not agreed"
TYPED_FINISH_FIRST = (
    "Finish or `cancel` what I asked you first; then type `{command}` again."
)
STEP_OUTCOME_FINISH_FIRST = (
    "Finish or `cancel` what I asked you first, or type `done {reference}`, the step and"
    " `agreed` or `not agreed` on one line."
)
# the terminal chat (bot/chat.py): only what the other chats do not have
CHAT_HELP = (
    "In this terminal chat also:\n"
    "  as EMAIL            become someone else (play the counterpart or a manager)\n"
    "  wait 2h | wait 1d   move the simulated clock on; lapsed deadlines fire\n"
    "  quit                end the chat"
)
CHAT_PROMPT = "{question}\n> "
CHAT_INPUT_ENDED = "Input ended; nothing half-finished was sent."
CHAT_NOT_IN_DIRECTORY = "{email} is not in the directory; give the email of someone who is."
CHAT_STILL = "You are still {email}."
CHAT_NOW = "You are now {email}."
CHAT_HOW_LONG = "Say how long, e.g. `wait 2h` or `wait 1d`."
CHAT_AS_WHO = "Say whom to play: `as EMAIL`, for example `as hana.moss@health.northbay.example`."
CHAT_TIME = "It is now {now} ({zone})."
CHAT_WELCOME = (
    "You are {email}. Type `help` for commands. The clock is simulated: `wait 1d`."
)
CHAT_SERVER_USES_IT = (
    "chat: warning: a running server (process {pid}) uses {path}; the chat's simulated clock"
    " would move its cases' deadlines. Fix: leave out --db (the chat keeps var/chat.sqlite3)."
)
CHAT_NOT_IN_DIRECTORY_AT_START = (
    "chat: {email} is not in the directory ({config}); fix: --as with the email of someone in"
    " it, e.g. dana.marsh@council.northbay.example in the example"
)
CHAT_URGENT = "!! URGENT: sent at once, whatever the hour"
URGENT_MARK = "(URGENT: sent at once)"
BAD_MENU = "Answer with the number of one of the choices ({numbers}), or its words."
BAD_MENU_YES_NO = "Answer with the number of one of the choices ({numbers}), or yes or no."
SEND_THIS = "Send this?"

# a field named where no card can show its error beside it (ids are for the pack's author)
PLEASE_CORRECT = "Please correct: "
FIELD_NAMES = {
    "summary": "What was discussed",
    "agreed_actions": "Agreed actions",
    "unresolved": "What remains unresolved",
    "decision": "The decision",
    "to_email": "Hand over to",
    "email": "Their email",
    "reason": "Why",
    "new_due": "New date",
    "counterpart": "Who you are raising this with",
    "start_stage": "Start at stage",
    "pathway": "Which route fits",
    "route": "The route",
    "outcome": "Agreed?",
    "corrects": "The entry it corrects",
    "child_name": "Child's name",
    "child_dob": "Child's date of birth",
}
ACK_PARTIES_ONLY = (
    "Only the professionals on case {reference} acknowledge it: the business team follows it"
    " without. Nothing was changed."
)
RAISER_NEED_NOT_ACK = (
    "You raised case {reference}: there is nothing for you to acknowledge. Nothing was changed."
)

# agreed actions typed one at a time
ACTION_ASK_WHAT = "Agreed action {n}: what will be done?"
ACTION_ASK_WHAT_SKIP = " (send '-' if there are no more)"
ACTION_ASK_WHO = "Who will do it? Choose someone on this case (a number, a name or an email):"
ACTION_ASK_WHEN = "By when? An actual date, for example 04/12/2026."
ACTION_ASK_MORE = "Another agreed action?"
ACTION_NEEDS_WHAT = "Say what will be done."
ACTION_NEEDS_WHO = "Say who will do it."
ACTION_OWNER_NOT_PARTY = (
    "'{who}' is not someone on this case; only people on it are asked about an action when it"
    " is due. Choose one of: {names}."
)
ACTION_DUE_NEEDED = (
    "Give the actual date it will be done by (not 'ASAP'), for example 04/12/2026."
)
ACTIONS_NEED_ONE = (
    "At least one agreed action is needed here: what will be done, who will do it, by when."
)
# the most actions one record takes (dialogs/agreed_actions.py MAX_ACTIONS), card and chat alike
ACTIONS_CAP_REACHED = (
    "That is {n} actions, the most one record takes; any more can go in a further record of"
    " the discussion."
)
ACTIONS_CAP_NOTE = (
    "A card takes up to {n} actions; any more can go in a further record of the discussion."
)
# agreed actions as rows of a card
ACTION_ROW_TITLE = "Action {n}"
ACTION_WHAT_LABEL = "What will be done"
ACTION_WHO_LABEL = "Who will do it"
ACTION_DUE_LABEL = "By when"
ACTION_PART_WORDS = {"what": "what", "who": "who", "due": "by when"}
ACTION_ROW_ERROR = "Action {n} — {part}: {problem}"
BUTTON_ADD_ACTION = "Add another action"
BUTTON_REMOVE_ACTION = "Remove action {n}"
OPTIONAL_MARK = " (optional)"
DAY_NOT_IN_MONTH = (
    "'{value}' is not a date I can read: {month} has {days} days. Use DD/MM/YYYY, for example"
    " 04/12/2026."
)
NOT_GIVEN = "not given"
OPEN_STEPS_ARE = "Its open steps: {steps}."
NO_OPEN_STEPS = "It has no open steps."

# `escalation-bot retention`: the retention schedule (dialogs/retention.py)
RETENTION_REMOVED = "(removed: retention period ended)"
RETENTION_EVENT = (
    "child's details removed: closed {closed}, kept {years} years; {fields} field(s) anonymised,"
    " {rows} outbox row(s) removed"
)
RETENTION_CASE_LINE = (
    "{reference}: closed {closed}, retention ({years} years) ended {ends}; {verb} {fields}"
    " field(s): {paths}; {remove} {rows} outbox row(s) and {deadlines} deadline(s)"
)
RETENTION_NOTHING_DUE = "No closed case has reached the end of its retention period."
RETENTION_NO_SCHEDULE = (
    "{partnership}: no retention period configured, so its closed cases are kept. To set one, add"
    " retention: {{closed_cases_years: N}} to the partnership in {config}."
)
RETENTION_UNKNOWN_PARTNERSHIP = (
    "retention: there is no partnership '{partnership}' in {config}. Use one of: {known}."
)
RETENTION_SENT = (
    "Delivered notifications sent before {before} ({days} days): {verb} {count}."
)
RETENTION_EXPIRED = (
    "Expired duplicate-guard markers: {verb} {markers}; expired conversations: {verb} {sessions}."
)
RETENTION_STALE = (
    "{reference}: changed while retention ran; left as it is. Run retention again."
)
RETENTION_DONE = "Retention: {cases} case(s) anonymised."

# tools on the server beside the bot (retention, subject-access)
TOOL_NO_DATABASE = (
    "{command}: there is no database at {path}. Give --db the bot's SQLite file, or set "
    "ESCALATION_BOT_DATABASE."
)
TOOL_BAD_DATABASE = (
    "{command}: {path} cannot be read as the bot's database ({reason}). Give --db the bot's SQLite"
    " file."
)
TOOL_NO_REDIS = (
    "{command}: cannot use Redis at {url} ({reason}). Check ESCALATION_BOT_REDIS_URL and that Redis"
    " is running."
)

# `escalation-bot subject-access`
SUBJECT_ACCESS_BAD_DOB = (
    "subject-access: --dob '{dob}' is not a date. Give the date of birth as YYYY-MM-DD, e.g."
    " 2016-04-12."
)
SUBJECT_ACCESS_NO_NAME = "subject-access: --child-name is empty. Give the child's name."
SUBJECT_ACCESS_NONE = (
    "subject-access: no case matches that name and date of birth in {store} (names are matched"
    " ignoring case and spaces at either end; the date exactly). Nothing was written."
)
SUBJECT_ACCESS_NOT_A_FOLDER = (
    "subject-access: --out {path} is not a folder. Give an existing folder to write the two files"
    " into."
)
SUBJECT_ACCESS_CANNOT_WRITE = "subject-access: cannot write {path} ({reason})."
SUBJECT_ACCESS_WROTE = "wrote {path}"
SUBJECT_ACCESS_FOUND = "{count} case(s) matched: {references}"
SUBJECT_ACCESS_TITLE = "Subject access request: records about one child"
SUBJECT_ACCESS_ABOUT = "About this export"
SUBJECT_ACCESS_MATCHING = (
    "Every case whose child's name matches, ignoring upper and lower case and spaces at either"
    " end, and whose date of birth is exactly the one given."
)
SUBJECT_ACCESS_CASE = "Case {reference}"
SUBJECT_ACCESS_HISTORY = "Case {reference}: history"
