"""The `mailspec` command: serve | test | coverage | faults | deliver | passwd | report."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from importlib import resources
from pathlib import Path

from mailspec.faults import FAULTS, validate_faults

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
# Suites that are complete: every fault of theirs names tests that exist, and the project's own
# tests (sensitivity, coverage) hold them to it.
SUITE_PROTOCOLS: tuple[str, ...] = ("pop3", "imap")
# Suites that run (`--protocol imap`, and `all`) but are still being written: their faults' tests
# may not exist yet. When the IMAP suite is complete, move "imap" into SUITE_PROTOCOLS.
PROTOCOLS_IN_PROGRESS: tuple[str, ...] = ()
RUNNABLE_PROTOCOLS: tuple[str, ...] = SUITE_PROTOCOLS + PROTOCOLS_IN_PROGRESS
# Below this many tests a single process is quicker than starting pytest-xdist workers.
PARALLEL_MIN_TESTS = 40


class UsageError(Exception):
    """A command-line mistake: printed as `mailspec: error: ...`, exit status 2."""


def _protocols(choice: str) -> tuple[str, ...]:
    if choice == "all":
        return RUNNABLE_PROTOCOLS
    if choice not in RUNNABLE_PROTOCOLS:
        raise UsageError(f"there is no {choice} suite yet; available: {', '.join(RUNNABLE_PROTOCOLS)}, all")
    return (choice,)


def _workers(args: argparse.Namespace, protocols: tuple[str, ...]) -> int:
    """How many pytest-xdist workers to run: --jobs, else 2 when it pays off and is safe.

    It pays off for a large selection on a machine with two or more cores, when this is not
    already a worker of a parallel pytest run. It is safe on the builtin target (one server per
    worker) and on a target with at least two disposable accounts per worker (they are split).
    """
    import importlib.util
    import os

    if args.jobs is not None:
        return max(args.jobs, 1)
    if importlib.util.find_spec("xdist") is None or args.k or args.exitfirst:
        return 1
    if (os.cpu_count() or 1) < 2 or os.environ.get("PYTEST_XDIST_WORKER"):
        return 1
    from mailspec.coverage import collect_spec_tests

    selected = [t for t in collect_spec_tests() if t.test_id.split("/")[0] in protocols]
    if len(selected) <= PARALLEL_MIN_TESTS:
        return 1
    if args.target != "builtin":
        from mailspec.targets import load_target

        if len(load_target(args.target).disposable_accounts()) < 4:
            return 1
    return 2


def _run_pytest(pytest_args: list[str]) -> int:
    """pytest.main without the plugins that happen to be installed (they cost start-up time in
    every worker and could change how tests run); the suite's own are loaded with -p."""
    import os

    import pytest

    saved = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    try:
        return int(pytest.main(pytest_args))
    finally:
        if saved is None:
            del os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"]
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = saved


def _default_report_dir() -> Path:
    return Path("reports") / dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def cmd_test(args: argparse.Namespace) -> int:
    from mailspec.report.folder import write_reports
    from mailspec.report.results import FAILING, counts, load_results
    from mailspec.targets import TargetError, load_target

    protocols = _protocols(args.protocol)
    if args.target != "builtin":
        try:
            load_target(args.target)  # fail early, with the file's own error, before pytest starts
        except TargetError as exc:
            raise UsageError(str(exc)) from exc
        if args.fault:
            raise UsageError("--fault only applies to --target builtin (the reference server)")
    try:
        validate_faults(args.fault)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc

    report_dir = Path(args.report_dir) if args.report_dir else _default_report_dir()
    report_dir.mkdir(parents=True, exist_ok=True)
    results_path = report_dir / "results.json"
    results_path.unlink(missing_ok=True)
    import suite

    suite_root = Path(suite.__file__).parent
    ini = resources.files("mailspec.data").joinpath("suite.ini")
    pytest_args = [str(suite_root / p) for p in protocols]
    pytest_args += ["-c", str(ini), "--rootdir", str(suite_root.parent),
                    "-p", "mailspec.plugin", "--mailspec-target", args.target,
                    "--mailspec-results", str(results_path)]
    for f in args.fault:
        pytest_args += ["--mailspec-fault", f]
    if args.strict:
        pytest_args.append("--mailspec-strict")
    if args.k:
        pytest_args += ["-k", args.k]
    if args.exitfirst:
        pytest_args.append("-x")
    workers = _workers(args, protocols)
    if workers > 1:
        pytest_args += ["-p", "xdist.plugin", "-n", str(workers), "--dist", "worksteal"]
    pytest_args += ["-q"] if args.quiet else ["-v"] if args.verbose else []
    pytest_args += args.pytest_args or []

    code = _run_pytest(pytest_args)
    if not results_path.exists():
        print(f"mailspec: the suite wrote no results (pytest exit status {int(code)})", file=sys.stderr)
        return EXIT_USAGE
    results = load_results(results_path)
    junit_path = Path(args.junit) if args.junit else report_dir / "junit.xml"
    write_reports(results, report_dir, protocols, junit_path)
    c = counts(results)
    executed = c["passed"] + sum(c[o] for o in FAILING) + c["deviation"]
    print(f"\nmailspec: {results['target']}: " + ", ".join(f"{n} {o}" for o, n in c.items() if n)
          + f" in {results.get('duration', 0):.2f}s")
    print(f"mailspec: reports in {report_dir}/ (junit: {junit_path}, html: {report_dir / 'report.html'})")
    if executed == 0:
        print("mailspec: no test was executed", file=sys.stderr)
        return EXIT_USAGE
    if int(code) not in (0, 1):  # interrupted, internal error, usage error inside pytest
        return EXIT_USAGE
    return EXIT_FAILED if any(c[o] for o in FAILING) else EXIT_OK


def cmd_coverage(args: argparse.Namespace) -> int:
    from mailspec.coverage import PROTOCOL_RFCS, collect_spec_tests, coverage_report, coverage_summary

    protocols = _protocols(args.protocol)
    rfcs = tuple(r for p in protocols for r in PROTOCOL_RFCS[p])
    if args.rfc:
        rfcs = tuple(args.rfc.split(","))
    tests = collect_spec_tests()
    if args.json:
        print(json.dumps(coverage_summary(rfcs, tests), indent=2))
    else:
        print(coverage_report(rfcs, tests, verbose=args.verbose))
    return EXIT_OK


def cmd_faults(args: argparse.Namespace) -> int:
    for f in FAULTS.values():
        if args.protocol in ("all", f.protocol):
            print(f"{f.name}\n    {f.description}\n    caught by: {', '.join(f.caught_by)}")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from reference_server.main import serve

    try:
        validate_faults(args.fault)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    serve(args.config, args.fault)
    return EXIT_OK


def cmd_deliver(args: argparse.Namespace) -> int:
    from reference_server.main import deliver_files

    deliver_files(args.config, args.user, args.paths)
    return EXIT_OK


def cmd_passwd(args: argparse.Namespace) -> int:
    from reference_server.main import hash_password_cli

    hash_password_cli()
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    """Rewrite each folder's reports from its results.json; with several, also a comparison page."""
    from mailspec.report.compare import Run, write_comparison
    from mailspec.report.folder import write_reports
    from mailspec.report.results import load_results
    from mailspec.report.summary import protocols_of

    if args.out and len(args.dirs) < 2:
        raise UsageError("--out names the comparison page, which needs two or more report folders")
    runs = []
    for d in args.dirs:  # read them all first: one bad folder writes nothing
        folder = Path(d)
        if not (folder / "results.json").exists():
            raise UsageError(f"{folder}: no results.json (is it a `mailspec test` report folder?)")
        try:
            runs.append(Run(folder, load_results(folder / "results.json")))
        except ValueError as exc:  # also JSONDecodeError
            raise UsageError(f"{folder / 'results.json'}: {exc}") from exc
    for run in runs:
        write_reports(run.results, run.folder, protocols_of(run.results, SUITE_PROTOCOLS))
        print(f"{run.folder}: junit.xml, summary.json, transcripts/, report.html written")
    if len(runs) > 1:
        out = Path(args.out) if args.out else Path("reports") / f"compare-{_default_report_dir().name}.html"
        write_comparison(runs, out)
        print(f"comparison of {len(runs)} runs: {out}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mailspec", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("test", help="run the conformance suite against a target")
    t.add_argument("--target", default="builtin",
                   help="'builtin' (default: the reference server, started in-process) or a target TOML file")
    t.add_argument("--protocol", default="all", help="pop3 | imap | all (default all)")
    t.add_argument("-k", metavar="EXPR", help="only tests matching this pytest -k expression")
    t.add_argument("--strict", action="store_true", help="also run SHOULD-level tests")
    t.add_argument("--junit", metavar="PATH", help="JUnit XML path (default REPORT_DIR/junit.xml)")
    t.add_argument("--report-dir", metavar="DIR", help="report folder (default reports/<UTC timestamp>/)")
    t.add_argument("--fault", action="append", default=[], metavar="NAME",
                   help="inject a catalogued fault into the builtin server (repeatable; `mailspec faults`)")
    t.add_argument("-x", "--exitfirst", action="store_true", help="stop at the first failure")
    t.add_argument("-j", "--jobs", type=int, metavar="N",
                   help="run in N processes (pytest-xdist); default: 2 for large selections when "
                        "pytest-xdist is installed, else 1")
    t.add_argument("-q", "--quiet", action="store_true", help="dots instead of one line per test")
    t.add_argument("-v", "--verbose", action="store_true", help="one line per test (the default)")
    t.add_argument("pytest_args", nargs="*", help="extra pytest arguments, after --")
    t.set_defaults(func=cmd_test)

    c = sub.add_parser("coverage", help="requirement coverage of the suite, per RFC and level")
    c.add_argument("--protocol", default="all")
    c.add_argument("--rfc", help="comma-separated RFC numbers instead of the protocol's set")
    c.add_argument("--json", action="store_true", help="machine-readable output")
    c.add_argument("--verbose", action="store_true", help="also list the server MUST rows no test tags")
    c.set_defaults(func=cmd_coverage)

    f = sub.add_parser("faults", help="list the injectable faults and the tests that must catch each")
    f.add_argument("--protocol", default="all")
    f.set_defaults(func=cmd_faults)

    s = sub.add_parser("serve", help="run the reference server")
    s.add_argument("--config", help="server TOML file (default: built-in accounts on ports 1110/1995)")
    s.add_argument("--fault", action="append", default=[], metavar="NAME", help="inject a fault (repeatable)")
    s.set_defaults(func=cmd_serve)

    d = sub.add_parser("deliver", help="deliver .eml files, an mbox or a Maildir into an account's INBOX")
    d.add_argument("--config", required=True, help="server TOML file")
    d.add_argument("--user", required=True)
    d.add_argument("paths", nargs="+", help="files or folders; '-' reads one message from stdin")
    d.set_defaults(func=cmd_deliver)

    pw = sub.add_parser("passwd", help="hash a password for a server config file (reads stdin)")
    pw.set_defaults(func=cmd_passwd)

    r = sub.add_parser("report", help="rewrite a run's reports (incl. report.html); compare several runs")
    r.add_argument("dirs", nargs="+", metavar="DIR", help="report folders of `mailspec test` runs (results.json)")
    r.add_argument("--out", metavar="PATH",
                   help="comparison page when two or more DIRs are given (default reports/compare-<UTC time>.html)")
    r.set_defaults(func=cmd_report)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except UsageError as exc:
        parser.error(str(exc))  # exits 2
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
