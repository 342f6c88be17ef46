"""Import students, course rosters and teachers from CSV or XLSX files.

    python -m infra.roster students students.csv --dry-run     # preview: counts and problems
    python -m infra.roster students students.csv
    python -m infra.roster rosters enrolments.xlsx
    python -m infra.roster teachers teachers.csv

Columns (first row, any case): students ``usn, name[, email, section]``; rosters ``usn,
course_code[, section, valid_from, valid_to]`` (dates YYYY-MM-DD); teachers ``username, name[,
email, courses]`` where ``courses`` is ``CS501;CS502/B`` (a course, optionally one section).
The file is written only when every row is valid, in one transaction, as an upsert: importing it
again changes nothing. Exit status: 0 written (or a clean dry run), 1 problems found (nothing
written), 2 invalid settings or no database.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import cast

from pydantic import ValidationError

from cloud_functions.api.crud import audit
from cloud_functions.core.db.engine import get_engine, transaction
from cloud_functions.core.errors import ConfigurationError, DatabaseUnavailableError
from cloud_functions.core.roster_import import FileFormat, ImportKind, ImportReport, import_file
from cloud_functions.core.settings import DatabaseSettings, load_settings


def _settings(database_url: str | None) -> DatabaseSettings:
    if database_url is None:
        return load_settings(DatabaseSettings)
    try:
        return DatabaseSettings(database_url=database_url)
    except ValidationError as e:
        raise ConfigurationError(f"invalid settings: {e}") from None


def file_format_of(path: Path) -> FileFormat:
    """``csv`` or ``xlsx`` from the file name's suffix."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise ConfigurationError(f"{path.name}: expected a .csv or .xlsx file")
    return cast(FileFormat, suffix[1:])


def print_report(report: ImportReport) -> None:
    """The problems, one per line, then the counts."""
    for error in report.errors:
        where = f"row {error.row}" + (f", column {error.column}" if error.column else "")
        print(f"{where}: {error.reason}")
    verb = "would be" if report.dry_run or not report.written else "were"
    print(
        f"{report.kind}: {report.rows} rows; {report.created} {verb} created, {report.updated} updated, "
        f"{report.unchanged} unchanged; {len(report.errors)} problems; "
        + ("written" if report.written else "nothing written")
    )


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m infra.roster", description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=("students", "rosters", "teachers"))
    parser.add_argument("file", type=Path, help="a .csv (UTF-8) or .xlsx file")
    parser.add_argument("--dry-run", action="store_true", help="validate and count, write nothing")
    parser.add_argument("--database-url", default=None, help="overrides CLASSSIGHT_DATABASE_URL")
    args = parser.parse_args(argv)
    kind = cast(ImportKind, args.kind)
    try:
        file_format = file_format_of(args.file)
        data = args.file.read_bytes()
        engine = get_engine(_settings(args.database_url).database_url)
        with transaction(engine) as connection:
            report = import_file(connection, kind, data, file_format, dry_run=args.dry_run)
            if report.written:
                audit.record(
                    connection,
                    actor=f"cli:{getpass.getuser()}",
                    action="import",
                    entity=kind,
                    entity_id=args.file.name,
                    after={"created": report.created, "updated": report.updated, "rows": report.rows},
                )
    except (ConfigurationError, DatabaseUnavailableError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print_report(report)
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
