"""The `escalation-bot` command. Every failure a person can cause ends in a readable message and a
non-zero exit, never a traceback."""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from dialogs import texts
from policy.calendar import CalendarError, WorkingCalendar
from policy.config import load_config
from policy.errors import IDENTIFIER_PATTERN, FileProblems
from policy.loader import PolicyRegistry, load_policy_file, starter_pack
from policy.model import Allowance, AllowanceUnit, Policy, Prompt, Stage
from policy.timeline import timeline_as_json, what_if_timeline

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="escalation-bot",
        description="Runs a partnership's procedure for resolving professional differences.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    policy = sub.add_parser("policy", help="list, show or check policy packs")
    policy_sub = policy.add_subparsers(dest="policy_command", required=True)
    listing = policy_sub.add_parser("list", help="the packs this bot knows")
    listing.add_argument("--json", action="store_true")
    show = policy_sub.add_parser("show", help="one pack, readably")
    show.add_argument("id")
    show.add_argument("--json", action="store_true")
    check = policy_sub.add_parser(
        "check", help="validate a pack file: every problem, with its line and fix"
    )
    check.add_argument("file")
    new = policy_sub.add_parser(
        "new",
        help="print a starter pack with comments: escalation-bot policy new ID > ID.yaml",
    )
    new.add_argument("id", help="the new pack's id, which is also its file name")

    timeline = sub.add_parser("timeline", help="what-if timeline if nothing is resolved")
    which = timeline.add_mutually_exclusive_group(required=True)
    which.add_argument("--policy", help="an installed pack's id (see `policy list`)")
    which.add_argument("--pack", help="a pack file, installed or not: dry-run your own")
    timeline.add_argument("--start", required=True, help="local date-time, e.g. 2026-11-30T10:00")
    timeline.add_argument("--json", action="store_true")

    config = sub.add_parser("config", help="check a configuration file")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    config_check = config_sub.add_parser("check")
    config_check.add_argument("file")

    demo = sub.add_parser(
        "demo",
        help="a scripted case on a simulated clock",
        description="One scripted case, raised to resolved, through the real engine on a"
        " simulated clock and a throw-away database, printing what every person and channel"
        " would see.",
    )
    demo.add_argument(
        "--policy",
        default="nsscp",
        help="the procedure to run: a pack id from `escalation-bot policy list` that a"
        " configured partnership uses (default: nsscp)",
    )

    serve = sub.add_parser("serve", help="run the bot: scheduler, health and metrics over HTTP")
    serve.add_argument("--host", help="bind address (default 127.0.0.1, or ESCALATION_BOT_HOST)")
    serve.add_argument("--port", type=int, help="default 3978, or ESCALATION_BOT_PORT")

    capture = sub.add_parser(
        "mail-capture", help="a local mail server that writes every message to a folder (.eml)"
    )
    capture.add_argument("--dir", help="where to write them (default var/mail)")
    capture.add_argument("--host", default="127.0.0.1", help="loopback only (default 127.0.0.1)")
    capture.add_argument("--port", type=int, default=1025, help="default 1025")

    chat = sub.add_parser(
        "chat",
        help="play any role in a terminal against the SQLite store",
        description="Answer the bot as any person in the directory, one question at a time, on"
        " a simulated clock (`wait 1d`); `as EMAIL` switches person, `help` lists the commands.",
    )
    chat.add_argument(
        "--as",
        dest="as_email",
        required=True,
        metavar="EMAIL",
        help="who you are at first: the email of someone in the directory",
    )
    chat.add_argument(
        "--config",
        help="the configuration with the directory (default: ESCALATION_BOT_CONFIG, else the"
        " fictional examples/partnerships.yaml)",
    )
    chat.add_argument(
        "--db",
        help="the SQLite file for the chat's cases (default: var/chat.sqlite3, its own, never"
        " the server's; its simulated clock is kept beside it, as FILE.clock)",
    )

    record = sub.add_parser(
        "record",
        help="a case's forms as DOCX or PDF files (business team, on the server)",
        description="Write the current state of a case's forms. Prints only the files written,"
        " never the child's details; the files hold them, so file them on the child's record.",
    )
    record.add_argument("reference", help="the case reference, e.g. NB-0001")
    record.add_argument("--form", dest="form_id", help="one form id (default: every form reached)")
    record.add_argument("--format", required=True, choices=["docx", "pdf"])
    record.add_argument(
        "--out", required=True, help="the file to write, or an existing folder for every form"
    )
    record.add_argument("--db", help="the bot's SQLite file (default: ESCALATION_BOT_DATABASE)")
    record.add_argument("--config", help="the configuration (default: ESCALATION_BOT_CONFIG)")

    people = sub.add_parser("people", help="the directory: import people from a CSV file")
    people_sub = people.add_subparsers(dest="people_command", required=True)
    importing = people_sub.add_parser(
        "import",
        help="add or update people from a CSV file (an HR or agency list)",
        description="Add or update people in the directory the bot keeps in its store, from a"
        " CSV file with the columns email, name, agency, role and line_manager (and optionally"
        " prefers, teams_aad_object_id, slack_user_id); the header is row 1. Every row is"
        " checked as the configuration's people are (agencies and roles that exist, line"
        " managers in the directory, one entry per email and per account) and every problem is"
        " listed with its row, column and fix. If any row has a problem nothing is imported."
        " People in the configuration file stay as it says. No child's details are involved.",
    )
    importing.add_argument("file", help="the CSV file (UTF-8; a spreadsheet's 'CSV UTF-8')")
    importing.add_argument(
        "--config", help="the configuration (default: ESCALATION_BOT_CONFIG)"
    )
    importing.add_argument(
        "--db",
        help="the bot's SQLite file (default: the bot's own store: ESCALATION_BOT_REDIS_URL if"
        " set, else ESCALATION_BOT_DATABASE)",
    )
    audit = sub.add_parser(
        "audit",
        help="prove a case's history untampered, or export it (business team, on the server)",
    )
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser(
        "verify",
        help="check every case's hash chains; names the first break of each case, exit 1 on any",
    )
    verify.add_argument("--partnership", help="only this partnership's cases (its config id)")
    verify.add_argument(
        "--db", help="the bot's SQLite file (default: the bot's store: Redis if"
        " ESCALATION_BOT_REDIS_URL is set, else ESCALATION_BOT_DATABASE)"
    )
    export = audit_sub.add_parser(
        "export", help="one case's whole history: who did and saw what, when, by name and email"
    )
    export.add_argument("reference", help="the case reference, e.g. NB-0001")
    export.add_argument("--format", choices=["json", "csv"], default="json")
    export.add_argument("--out", help="the file to write (default: standard output)")
    export.add_argument("--db", help="the bot's SQLite file (default: the bot's store)")

    report = sub.add_parser(
        "report",
        help="the report on the procedure's use over a period (no child details)",
        description="Counts of the cases raised in a period: by agency and reason, the stage"
        " each was resolved at, working days to resolve, deadlines missed, escalations by a"
        " person and by lapse, agreed actions, and what people said about the process.",
    )
    report.add_argument("--partnership", required=True, help="a partnership id of the config")
    report.add_argument("--from", dest="start", required=True, metavar="DATE",
                        help="first day raised, YYYY-MM-DD")
    report.add_argument("--to", dest="end", required=True, metavar="DATE",
                        help="last day raised, YYYY-MM-DD")
    report.add_argument("--format", required=True, choices=["html", "csv", "json", "pdf"])
    report.add_argument("--agency", help="only the cases this agency raised or received")
    report.add_argument("--db", help="the bot's SQLite file (default: the configured store)")
    report.add_argument("--out", help="the file to write (default: standard output)")
    report.add_argument("--config", help="the configuration (default: ESCALATION_BOT_CONFIG)")

    retention = sub.add_parser(
        "retention",
        help="apply the retention schedule: anonymise closed cases past it, prune old rows",
        description="For every closed case whose partnership's retention period has ended,"
        " remove the child's details and free texts (the statistics stay), in one transaction"
        " per case, and record it in the case's history. Also remove notifications delivered"
        " more than 30 days ago and expired duplicate-guard markers and conversations."
        " Prints case references, dates and field names, never a child's details.",
    )
    retention.add_argument(
        "--dry-run", action="store_true", help="list what would be removed and change nothing"
    )
    retention.add_argument("--partnership", help="one partnership's cases (default: every one)")
    retention.add_argument("--db", help="the bot's SQLite file (default: the configured store)")
    retention.add_argument("--config", help="the configuration (default: ESCALATION_BOT_CONFIG)")

    access = sub.add_parser(
        "subject-access",
        help="one child's cases and records as a PDF and a JSON file (business team, on the"
        " server)",
        description="Find every case about one child - the name matched ignoring upper and lower"
        " case and spaces at either end, the date of birth exactly - and write them, with their"
        " histories, as subject-access-DATE-N.pdf and .json. File names and output carry no"
        " child details.",
    )
    access.add_argument("--child-name", required=True, help="the child's name as recorded")
    access.add_argument("--dob", required=True, help="date of birth, YYYY-MM-DD")
    access.add_argument("--out", help="an existing folder for the two files (default: here)")
    access.add_argument("--db", help="the bot's SQLite file (default: the configured store)")
    access.add_argument("--config", help="the configuration (default: ESCALATION_BOT_CONFIG)")

    manifest = sub.add_parser("manifest", help="build the app package a chat platform needs")
    manifest_sub = manifest.add_subparsers(dest="manifest_command", required=True)
    teams = manifest_sub.add_parser("teams", help="the Teams app package (.zip) to upload")
    teams.add_argument("--app-id", required=True, help="the bot's Microsoft App ID (a GUID)")
    teams.add_argument("--out", required=True, help="the .zip to write")
    teams.add_argument("--name", help="the name people see in Teams (default: Escalation bot)")
    teams.add_argument(
        "--version",
        help="MAJOR.MINOR.PATCH, higher than the package last uploaded: Teams offers an update"
        " only when it goes up (default: the bot's own version)",
    )
    teams.add_argument(
        "--developer-name",
        required=True,
        help="who publishes the app, as Teams shows it (your partnership; at most 32 characters)",
    )
    teams.add_argument(
        "--developer-url", required=True, help="https:// page about the app (its website)"
    )
    teams.add_argument(
        "--privacy-url", required=True, help="https:// page of your privacy notice for the app"
    )
    teams.add_argument("--terms-url", required=True, help="https:// page of its terms of use")
    slack = manifest_sub.add_parser(
        "slack",
        help="the Slack app manifest (YAML) to paste into Slack",
        description="Fill in the Slack app manifest (manifest/slack/manifest.yaml) and check it"
        " against the structure Slack documents. Paste the result in Slack: Your Apps > Create"
        " New App > From a manifest.",
    )
    slack_mode = slack.add_mutually_exclusive_group(required=True)
    slack_mode.add_argument(
        "--url",
        help="the bot's public https:// address; Slack sends to URL/slack/events",
    )
    slack_mode.add_argument(
        "--socket-mode",
        action="store_true",
        help="no public URL: the bot dials out to Slack (set SLACK_APP_TOKEN)",
    )
    slack.add_argument("--out", help="the .yaml file to write (default: print it)")
    slack.add_argument("--name", help="the app's name in Slack (default: Escalation bot)")
    return parser


def _registry_or_exit() -> tuple[PolicyRegistry | None, int]:
    from bot.bootstrap import load_policies
    from bot.settings import Settings

    try:
        return load_policies(Settings.from_env().extra_packs), EXIT_OK
    except FileProblems as exc:
        print(exc.render(), file=sys.stderr)
        return None, EXIT_PROBLEM


def _policy_or_exit(policy_id: str) -> tuple[Policy | None, int]:
    registry, code = _registry_or_exit()
    if registry is None:
        return None, code
    try:
        return registry.get(policy_id), EXIT_OK
    except KeyError as exc:
        print(exc.args[0], file=sys.stderr)
        return None, EXIT_PROBLEM


def _region(policy: Policy) -> str:
    subdivision = policy.calendar.subdivision
    return policy.calendar.country + (f"-{subdivision}" if subdivision else "")


def _policy_list(as_json: bool) -> int:
    """The packs that loaded, then each installed file that did not, with its problems: one bad
    file must not hide the others, nor pass unnoticed (exit 1)."""
    registry, code = _registry_or_exit()
    if registry is None:
        return code
    listed = _policy_rows(registry, as_json)
    if registry.broken:
        print(texts.POLICY_LIST_BROKEN.format(count=len(registry.broken)), file=sys.stderr)
        for problems in registry.broken.values():
            print(problems.render(), file=sys.stderr)
        return EXIT_PROBLEM
    return listed


_SHORT_UNITS = {AllowanceUnit.WORKING_HOURS: "wh", AllowanceUnit.ELAPSED_HOURS: "h"}


def _allowance_short(allowance: Allowance) -> str:
    """An allowance in the list's column: 5 (working days), 48wh (working hours), 1h (elapsed)."""
    return f"{allowance.amount}{_SHORT_UNITS.get(allowance.unit, '')}"


def _allowance_json(allowance: Allowance) -> int | dict[str, object]:
    """Working days as the number they always were; hours with their unit."""
    if not allowance.in_hours:
        return allowance.amount
    return {"amount": allowance.amount, "unit": allowance.unit.value}


def _allowance_long(allowance: Allowance) -> str:
    """An allowance as `policy show` says it: "2 working day(s)", "within 48 working hours"."""
    if not allowance.in_hours:
        return f"{allowance.amount} working day(s)"
    return texts.allowance_words(allowance.amount, allowance.unit.value)


def _policy_rows(registry: PolicyRegistry, as_json: bool) -> int:
    if as_json:
        rows = [
            {
                "id": p.id,
                "version": p.version,
                "name": p.name,
                "partnership": p.partnership,
                "stages": [_allowance_json(s.time_allowed) for s in p.stages],
                "region": _region(p),
                "sources": p.sources,
            }
            for p in registry.all()
        ]
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    for p in registry.all():
        allowances = "/".join(_allowance_short(s.time_allowed) for s in p.stages)
        print(f"{p.id:<18} v{p.version:<4} {_region(p):<7} {allowances:<12} {p.name}")
    return EXIT_OK


def _policy_show(policy_id: str, as_json: bool) -> int:
    policy, code = _policy_or_exit(policy_id)
    if policy is None:
        return code
    if as_json:
        print(policy.model_dump_json(indent=2))
        return EXIT_OK
    print(f"{policy.name} ({policy.id} v{policy.version})")
    print(f"Partnership: {policy.partnership}; scope: {', '.join(s.value for s in policy.scope)}")
    print(f"Working days: {policy.working_day_definition}")
    print(f"Immediate risk: {policy.immediate_risk.guidance}")
    if policy.immediate_risk.allows_later_start:
        print(f"  may start at stage {policy.immediate_risk.allowed_start_stages}")
    for route in policy.special_routes:
        print(f"Special route: {route.applies_when} -> {route.route_to}")
    for stage in policy.stages:
        holders = ", ".join(policy.role(r).name for r in stage.holder_roles)
        final = "; final and binding" if stage.final_and_binding else ""
        print(
            f"Stage {stage.number}: {stage.name} - {_allowance_long(stage.time_allowed)};"
            f" held by {holders}{final}{_prompt_note(stage.prompt)}"
        )
        if stage.holders.value == "all":
            print("    held by all of these roles together")
        for role_id, side in policy.role_sides(stage.holder_roles).items():
            print(f"    {policy.role(role_id).name}: the {side} agency's only")
        if stage.routes is not None:
            print(f"    {stage.routes.question} (default on lapse: {stage.routes.default})")
            for option in stage.routes.options:
                print(f"      {option.id}: {option.label} -> stage {option.next_stage}")
        elif stage.next_stage is not None:
            print(f"    then stage {stage.next_stage}")
        for step in stage.steps:
            print(
                f"    step {step.id}: {step.name} - {_allowance_long(step.time_allowed)},"
                f" {policy.role(step.owner_role).name}, starts {step.starts.value},"
                f" on lapse {step.on_lapse.value}{_prompt_note(step.prompt)}"
                + (f", asks {step.outcome.value}" if step.outcome else "")
                + (f", only if {step.when.value}" if step.when else "")
                + (f", counted from '{stage_step_name(stage, step.counted_from)}'"
                   if step.counted_from else "")
                + (f", letter {step.letter.form} to {', '.join(step.letter.to)}"
                   if step.letter else "")
            )
        form = f" on {policy.form(stage.recording.form).name}" if stage.recording.form else ""
        print(f"    recorded by {stage.recording.recorded_by}{form}")
        for copy in stage.copies_to:
            print(f"    copy to {copy.description}")
        print(f"    source: {stage.cite.seed}, {stage.cite.section}")
    return EXIT_OK


def _prompt_note(prompt: Prompt) -> str:
    return "; prompted immediately, at any hour" if prompt is Prompt.IMMEDIATELY else ""


def _pack_or_exit(file: str) -> tuple[Policy | None, int]:
    """A pack file loaded with every check the bot makes, installed or not."""
    try:
        return load_policy_file(Path(file)), EXIT_OK
    except FileProblems as exc:
        print(exc.render(), file=sys.stderr)
        return None, EXIT_PROBLEM


def _policy_check(file: str) -> int:
    policy, code = _pack_or_exit(file)
    if policy is None:
        return code
    print(
        texts.POLICY_CHECK_OK.format(
            file=file, id=policy.id, version=policy.version, stages=len(policy.stages)
        )
    )
    return EXIT_OK


def _policy_new(pack_id: str) -> int:
    """The starter pack on stdout (for `> ID.yaml`); an id the check would refuse is refused
    here, so the first file a business manager writes already passes."""
    if not re.fullmatch(IDENTIFIER_PATTERN, pack_id) or len(pack_id) > 64:
        print(texts.POLICY_NEW_BAD_ID.format(id=pack_id), file=sys.stderr)
        return EXIT_USAGE
    sys.stdout.write(starter_pack(pack_id))
    return EXIT_OK


def _parse_local(text: str, calendar: WorkingCalendar) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=calendar.zone)
    return moment


def _timeline(policy_id: str | None, pack_file: str | None, start: str, as_json: bool) -> int:
    if pack_file is not None:
        policy, code = _pack_or_exit(pack_file)
    else:
        policy, code = _policy_or_exit(policy_id or "")
    if policy is None:
        return code
    calendar = WorkingCalendar(
        country=policy.calendar.country,
        subdivision=policy.calendar.subdivision,
        time_zone=policy.calendar.time_zone,
    )
    try:
        starts = _parse_local(start, calendar)
    except ValueError:
        print(f"--start: '{start}' is not a date-time; use e.g. 2026-11-30T10:00", file=sys.stderr)
        return EXIT_USAGE
    windows = what_if_timeline(policy, starts, calendar)
    if as_json:
        print(json.dumps(timeline_as_json(policy, windows), indent=2))
        return EXIT_OK
    fmt = "%a %d %b %Y %H:%M"
    print(f"{policy.name}: if nothing is resolved ({calendar.time_zone})")
    for w in windows:
        stage = policy.stage(w.number)
        print(
            f"Stage {w.number} {w.name}: {w.starts.strftime(fmt)} -> due {w.due.strftime(fmt)}"
            + _hours_note(stage.time_allowed)
        )
        for s in w.steps:
            step = next(st for st in stage.steps if st.id == s.id)
            branch = f" (only if {s.when.replace('_', ' ')})" if s.when else ""
            counted = (f", counted from the end of '{stage_step_name(stage, s.counted_from)}'"
                       if s.counted_from else "")
            print(
                f"    {s.name}{branch}: due {s.due.strftime(fmt)}"
                f"{_hours_note(step.time_allowed)}{counted}"
            )
        for label, number in w.alternatives:  # the path above is the one a lapse takes
            print(f"    or, if chosen: {label} -> stage {number}")
    return EXIT_OK


def _hours_note(allowance: Allowance) -> str:
    """What follows an hour deadline, " (within 2 working hours)"; nothing for working days."""
    return f" ({_allowance_long(allowance)})" if allowance.in_hours else ""


def _config_check(file: str) -> int:
    registry, code = _registry_or_exit()
    if registry is None:
        return code
    try:
        config = load_config(Path(file), registry, os.environ)  # webhook secrets too, as serve
    except FileProblems as exc:
        print(exc.render(), file=sys.stderr)
        return EXIT_PROBLEM
    except CalendarError as exc:
        print(f"{file}: {exc}", file=sys.stderr)
        return EXIT_PROBLEM
    print(
        f"{file}: OK - {len(config.partnerships)} partnership(s), {len(config.agencies)} agencies,"
        f" {len(config.people)} people"
    )
    for problems in registry.broken.values():  # not used here, or the check would have failed
        print(
            texts.CONFIG_CHECK_UNUSED_BROKEN_PACK.format(
                path=problems.path, count=len(problems.problems)
            ),
            file=sys.stderr,
        )
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "policy":
            if args.policy_command == "list":
                return _policy_list(args.json)
            if args.policy_command == "show":
                return _policy_show(args.id, args.json)
            if args.policy_command == "new":
                return _policy_new(args.id)
            return _policy_check(args.file)
        if args.command == "timeline":
            return _timeline(args.policy, args.pack, args.start, args.json)
        if args.command == "config":
            return _config_check(args.file)
        if args.command == "demo":
            from bot.demo import run_demo

            return run_demo(args.policy)
        if args.command == "serve":
            # no collections while start-up builds its objects (~100k, nearly all kept for the
            # life of the process; two full collections and ~250 young ones cost ~15 % of the
            # start): bot.server's start() freezes them and turns collection back on
            gc.disable()
            from bot.serve import run_server

            return run_server(args.host, args.port)
        if args.command == "mail-capture":
            from bot.mail_capture import run_mail_capture

            return run_mail_capture(args.dir, args.host, args.port)
        if args.command == "chat":
            from bot.chat import run_chat

            return run_chat(args.as_email, args.config, args.db)
        if args.command == "record":
            from bot.record import run_record

            return run_record(
                args.reference, args.form_id, args.format, args.out, args.db, args.config
            )
        if args.command == "people":
            from bot.people import run_people_import

            return run_people_import(args.file, args.config, args.db)
        if args.command == "report":
            from bot.report import run_report

            return run_report(
                args.partnership, args.start, args.end, args.format, args.agency, args.out,
                args.db, args.config,
            )
        if args.command == "audit":
            from bot.audit import run_export, run_verify

            if args.audit_command == "verify":
                return run_verify(args.partnership, args.db)
            return run_export(args.reference, args.format, args.out, args.db)
        if args.command == "retention":
            from bot.retention import run_retention

            return run_retention(args.dry_run, args.partnership, args.db, args.config)
        if args.command == "subject-access":
            from bot.subject_access import run_subject_access

            return run_subject_access(args.child_name, args.dob, args.out, args.db, args.config)
        if args.command == "manifest" and args.manifest_command == "slack":
            from bot.slack_manifest import run_slack_command

            return run_slack_command(
                args.url, socket_mode=args.socket_mode, out_path=args.out, name=args.name
            )
        if args.command == "manifest":
            from bot.manifest import run_teams_command

            return run_teams_command(
                args.app_id,
                args.out,
                developer_name=args.developer_name,
                developer_url=args.developer_url,
                privacy_url=args.privacy_url,
                terms_url=args.terms_url,
                name=args.name,
                version=args.version,
            )
    except FileProblems as exc:
        print(exc.render(), file=sys.stderr)
        return EXIT_PROBLEM
    except KeyboardInterrupt:
        return EXIT_PROBLEM
    return EXIT_USAGE


def stage_step_name(stage: Stage, step_id: str) -> str:
    """A step as people know it, by its name (ids are for the pack's author)."""
    return next((s.name for s in stage.steps if s.id == step_id), step_id)


if __name__ == "__main__":
    sys.exit(main())
