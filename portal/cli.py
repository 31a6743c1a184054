"""The `portal` command: serve, worker, migrate, backup, demo, link, shops, settings, staff,
warehouse."""

from __future__ import annotations

import argparse
import getpass
import secrets
import signal
import sqlite3
import sys
from contextlib import ExitStack
from dataclasses import replace
from datetime import timedelta
from types import FrameType
from typing import Any

from starlette.applications import Starlette

from backend.actors import Actor, ActorKind
from backend.db import Database
from backend.orders.access import LinkSigner, issue_short_link
from backend.orders.service import find_order_id
from backend.staff.accounts import (
    LastActiveAdmin,
    StaffNameTaken,
    StaffNotFound,
    add_staff,
    change_password,
    disable_staff,
    enable_staff,
)
from backend.staff.models import Role
from backend.staff.second_factor import reset_second_factor
from portal.log_config import check_format, configure_worker_logging, serve_log_config
from portal.metrics import check_multiprocess_directory
from portal.settings import Settings, load_settings

CLI_ACTOR = Actor(ActorKind.SYSTEM, "cli", channel="cli")


def operator_actor() -> Actor:
    """Staff changes from the CLI name the operating-system account that ran them."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Actor(ActorKind.SYSTEM, f"cli:{user}", channel="cli")


def customer_links(settings: Settings, database: Database, order_id: int) -> tuple[str, str]:
    """(SMS short link, signed WeChat/H5 link) for an order."""
    from backend.orders.models import Order

    base = settings.base_url.rstrip("/")
    code = issue_short_link(database, order_id, CLI_ACTOR, timedelta(days=settings.short_link_days))
    with database.read() as session:
        order = session.get(Order, order_id)
        assert order is not None
        version = order.link_version
    signer = LinkSigner(list(settings.secret_keys), timedelta(days=settings.link_max_age_days))
    return f"{base}/t/{code}", f"{base}/o/{signer.sign(order_id, version)}"


def serve(app: Starlette, host: str, port: int) -> bool:
    """uvicorn, one process; False if it could not start (the port taken, say).

    A stop signal also tells the embedded worker at once to stop claiming: the lifespan
    shutdown, which waits for the job in hand, only comes after the connections drain.
    uvicorn then raises the signal again to die of it, skipping the clean-up after it;
    handled here, the process exits 0 after the clean-up instead, as `portal worker` does.
    """
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            embedded = getattr(app.state, "embedded_worker", None)
            if embedded is not None:
                embedded.worker.stop()
            super().handle_exit(sig, frame)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: None)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="info",
        proxy_headers=True,
        # See portal/logging_filters.py for what is logged, portal/log_config.py for how.
        log_config=serve_log_config(
            app.state.settings.log_format, app.state.settings.demo_emulator_log
        ),
    )
    server = Server(config)
    server.run()
    return server.started


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from portal.app import create_app

    if args.no_worker:
        settings = replace(settings, embedded_worker=False)
    workers = settings.web_workers if args.workers is None else args.workers
    if workers < 1:
        print(f"--workers must be 1 or more, not {workers}", file=sys.stderr)
        return 2
    with ExitStack() as stack:
        if settings.demo_emulators:
            from portal.demo_services import demo_services, resubscribe_moving_parcels

            database = Database(settings.database_url)
            settings = stack.enter_context(demo_services(settings, database))
            resubscribe_moving_parcels(database)
            database.dispose()
        if workers > 1:
            from portal.web_processes import serve_processes

            started = serve_processes(settings, args.host, args.port, workers)
        else:
            started = serve(create_app(settings), args.host, args.port)
    return 0 if started else 3


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    from portal.worker_process import open_worker, run_until_signalled

    configure_worker_logging(settings.log_format)
    return run_until_signalled(open_worker(settings, args.name))


def cmd_rotate_data_key(settings: Settings, args: argparse.Namespace) -> int:
    from backend.personal_data_rotation import reseal_all

    database = Database(settings.database_url)
    try:
        result = reseal_all(database, CLI_ACTOR)
    finally:
        database.dispose()
    print(
        f"{result.values} values resealed under key {result.key!r} in {result.columns} columns"
        + ("; run again until 0 before retiring an old key" if result.values else "")
    )
    return 0


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from backend.migrate import upgrade

    if settings.database_url.startswith("sqlite:///"):
        from pathlib import Path

        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )
    upgrade(settings.database_url)
    print("database is at the latest schema")
    return 0


def cmd_backup(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from backend.backup import BackupRefused, backup_sqlite

    try:
        result = backup_sqlite(settings.database_url, Path(args.destination), force=args.force)
    except BackupRefused as refused:
        print(f"portal backup: {refused}", file=sys.stderr)
        return 2
    except sqlite3.Error as error:
        print(f"portal backup: SQLite refused the copy: {error}", file=sys.stderr)
        return 1
    print(f"backed up {result.pages} pages to {result.destination} in {result.steps} steps")
    return 0


def cmd_shops_sync(settings: Settings, args: argparse.Namespace) -> int:
    """The Shop rows made to match the shops file (or the default shop per channel)."""
    from backend.orders.shops import ShopsFileInvalid, sync_shops

    try:
        directory = settings.shops
    except ShopsFileInvalid as error:
        print(f"shops file refused: {error}", file=sys.stderr)
        return 2
    database = Database(settings.database_url)
    try:
        result = sync_shops(database, directory, CLI_ACTOR)
    finally:
        database.dispose()
    print(
        f"{len(directory.shops)} shops: {result.added} added, {result.updated} updated, "
        f"{result.deactivated} deactivated"
    )
    return 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from backend.demo import (
        REAL_CARRIERS,
        count_parcels,
        list_demo_orders,
        seed_operations,
        seed_orders,
        seed_staff,
    )
    from backend.demo_catalogue import seed_catalogue_images
    from backend.refunds.photos import PhotoStore

    database = Database(settings.database_url)
    # With the emulators, parcels go by real carrier codes and move through Kuaidi100.
    carriers = REAL_CARRIERS if settings.demo_emulators else ("sandbox",)
    if settings.demo_emulators:
        from portal.demo_services import demo_booking

        # Today's parcels are booked at the Kuaidi100 e-waybill emulator, labels and all.
        with demo_booking(settings) as booking:
            result = seed_orders(
                database, carriers=carriers, booking=booking, rules=settings.rules.intake
            )
    else:
        result = seed_orders(database, carriers=carriers, rules=settings.rules.intake)
    staff = seed_staff(database)
    seed_operations(database, settings.rules.intake)
    # Return photos that copy a product's catalogue image go to review; the demo has some.
    seed_catalogue_images(database, PhotoStore(settings.photo_dir))
    print(f"demo orders: {result.created} created, {result.existing} already there")
    parcels = count_parcels(database)
    print(
        f"demo parcels: {parcels.get('booked', 0)} booked at the e-waybill emulator "
        f"(labels stored), {parcels.get('erp', 0)} with the ERP's waybills"
    )
    print("\nCustomer links (open on a phone-sized window):")
    for order_id, public_no, status in list_demo_orders(database):
        short, signed = customer_links(settings, database, order_id)
        print(f"  {public_no} [{status}]\n    SMS:    {short}\n    WeChat: {signed}")
    print(f"\nLookup form: {settings.base_url.rstrip('/')}/lookup")
    print(f"Staff console: {settings.base_url.rstrip('/')}/admin/ (demo logins)")
    for name, role, password in staff:
        print(f"  {name:<10} {password:<22} ({role})")
    return 0


def cmd_link(settings: Settings, args: argparse.Namespace) -> int:
    database = Database(settings.database_url)
    order_id = find_order_id(database, args.order_no)
    if order_id is None:
        print(f"no order {args.order_no}", file=sys.stderr)
        return 1
    short, signed = customer_links(settings, database, order_id)
    print(f"SMS link:    {short}\nWeChat link: {signed}")
    return 0


def cmd_settings(settings: Settings, args: argparse.Namespace) -> int:
    """Reached only when the settings were accepted: main refuses them before any command."""
    if args.env_example:
        from portal.settings_example import build_env_example

        print(build_env_example(), end="")
        return 0
    print("settings accepted")
    return 0


def cmd_staff_add(settings: Settings, args: argparse.Namespace) -> int:
    password = args.password
    generated = False
    if password is None:
        if sys.stdin.isatty():
            password = getpass.getpass("Password (at least 8 characters): ")
        else:
            password, generated = secrets.token_urlsafe(12), True
    try:
        database = Database(settings.database_url)
        add_staff(database, args.name, Role(args.role), password, operator_actor())
    except (StaffNameTaken, ValueError) as error:
        print(f"not added: {error}", file=sys.stderr)
        return 1
    print(f"added {args.name} ({args.role})" + (f", password: {password}" if generated else ""))
    return 0


def cmd_staff_disable(settings: Settings, args: argparse.Namespace) -> int:
    try:
        ended = disable_staff(Database(settings.database_url), args.name, operator_actor())
    except StaffNotFound:
        print(f"no staff member {args.name}", file=sys.stderr)
        return 1
    except LastActiveAdmin:
        print(f"{args.name} is the last active admin: add or enable another first", file=sys.stderr)
        return 1
    print(f"disabled {args.name}; {ended} open session(s) ended")
    return 0


def cmd_staff_enable(settings: Settings, args: argparse.Namespace) -> int:
    try:
        changed = enable_staff(Database(settings.database_url), args.name, operator_actor())
    except StaffNotFound:
        print(f"no staff member {args.name}", file=sys.stderr)
        return 1
    print(f"enabled {args.name}" if changed else f"{args.name} was already enabled")
    return 0


def _read_new_password() -> str | None:
    """From a prompt (typed twice) on a terminal, else the first line of stdin."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("New password (at least 8 characters): ")
    return password if getpass.getpass("Again: ") == password else None


def cmd_staff_password(settings: Settings, args: argparse.Namespace) -> int:
    password = _read_new_password()
    if password is None:
        print("the two passwords differ; nothing changed", file=sys.stderr)
        return 1
    database = Database(settings.database_url)
    try:
        ended = change_password(database, args.name, password, operator_actor())
    except (StaffNotFound, ValueError) as error:
        print(f"not changed: {error}", file=sys.stderr)
        return 1
    print(f"password of {args.name} changed; {ended} open session(s) ended")
    return 0


def cmd_staff_reset_second_factor(settings: Settings, args: argparse.Namespace) -> int:
    """For the one admin who lost both the phone and the recovery codes: the operator's way in."""
    try:
        changed = reset_second_factor(Database(settings.database_url), args.name, operator_actor())
    except StaffNotFound:
        print(f"no staff member {args.name}", file=sys.stderr)
        return 1
    print(
        f"second factor of {args.name} reset; they enrol again at the next login"
        if changed
        else f"{args.name} had no second factor"
    )
    return 0


def cmd_staff_warehouse(settings: Settings, args: argparse.Namespace) -> int:
    from backend.warehouse_logins import NoSuchWarehouse, NotAWarehouseLogin, assign_warehouse

    database = Database(settings.database_url)
    try:
        changed = assign_warehouse(database, args.name, args.warehouse, operator_actor())
    except StaffNotFound:
        print(f"no staff member {args.name}", file=sys.stderr)
        return 1
    except NotAWarehouseLogin:
        print(f"{args.name} is not a warehouse login", file=sys.stderr)
        return 1
    except NoSuchWarehouse:
        print(f"no warehouse {args.warehouse}", file=sys.stderr)
        return 1
    finally:
        database.dispose()
    where = args.warehouse.upper() if args.warehouse else "every warehouse"
    print(f"{args.name}: {where}" + ("" if changed else " (unchanged)"))
    return 0


def _add_staff_commands(staff_commands: Any) -> None:
    add = staff_commands.add_parser("add", help="add a staff member")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=[str(r) for r in Role])
    add.add_argument("--password", help="omit to be asked (or get a generated one)")
    add.set_defaults(run=cmd_staff_add)
    tie = staff_commands.add_parser(
        "warehouse", help="tie a warehouse login to one warehouse (omit the code: every one)"
    )
    tie.add_argument("name")
    tie.add_argument("warehouse", nargs="?", default=None, help="warehouse code, e.g. HZ")
    tie.set_defaults(run=cmd_staff_warehouse)
    for name, run, help_text in (
        ("disable", cmd_staff_disable, "stop an account logging in and end its sessions"),
        ("enable", cmd_staff_enable, "let a disabled account log in again"),
        ("password", cmd_staff_password, "set a new password (prompt or stdin), end sessions"),
        (
            "reset-second-factor",
            cmd_staff_reset_second_factor,
            "remove a lost TOTP factor and its recovery codes, end sessions",
        ),
    ):
        command = staff_commands.add_parser(name, help=help_text)
        command.add_argument("name")
        command.set_defaults(run=run)


def cmd_warehouse_add(settings: Settings, args: argparse.Namespace) -> int:
    from backend.orders.warehouses import WarehouseFields, WarehouseInvalid, save_warehouse

    fields = WarehouseFields(
        code=args.code,
        name=args.name,
        province=args.province,
        serves=tuple(name.strip() for name in args.serves.split(",") if name.strip()),
        priority=args.priority,
        active=not args.inactive,
        contact_name=args.contact,
        phone=args.phone,
        city=args.city,
        district=args.district,
        street=args.street,
    )
    try:
        save_warehouse(Database(settings.database_url), fields, operator_actor())
    except WarehouseInvalid as error:
        print(f"not saved: {error}", file=sys.stderr)
        return 1
    print(f"warehouse {args.code.upper()} saved")
    return 0


def cmd_warehouse_stock(settings: Settings, args: argparse.Namespace) -> int:
    from backend.orders.inventory import SkuInvalid
    from backend.orders.stock import WarehouseNotFound
    from backend.orders.warehouses import set_stock

    try:
        delta = set_stock(
            Database(settings.database_url),
            args.warehouse,
            args.sku,
            args.on_hand,
            operator_actor(),
        )
    except (SkuInvalid, WarehouseNotFound) as error:
        print(f"not counted: {error}", file=sys.stderr)
        return 1
    print(f"{args.sku.upper()} at {args.warehouse.upper()}: {args.on_hand} on hand ({delta:+d})")
    return 0


def cmd_warehouse_list(settings: Settings, args: argparse.Namespace) -> int:
    from backend.orders.warehouses import list_warehouses

    for w in list_warehouses(Database(settings.database_url)):
        state = "" if w.active else " (inactive)"
        print(f"{w.code:<10} {w.name} · {w.province or '-'} · priority {w.priority}{state}")
    return 0


def _add_warehouse_commands(commands: Any) -> None:
    add = commands.add_parser("add", help="create or update a warehouse by its code")
    add.add_argument("code")
    add.add_argument("name")
    add.add_argument("--province", default="", help="the province it ships from")
    add.add_argument("--serves", default="", help="provinces or regions it also serves, a,b")
    add.add_argument("--priority", type=int, default=100, help="lower ships first")
    add.add_argument("--inactive", action="store_true", help="keep it, but ship nothing from it")
    for option in ("contact", "phone", "city", "district", "street"):
        add.add_argument(f"--{option}", default="", help=f"sender {option} on waybills")
    add.set_defaults(run=cmd_warehouse_add)
    stock = commands.add_parser("stock", help="set a SKU's on-hand count at a warehouse")
    stock.add_argument("warehouse")
    stock.add_argument("sku")
    stock.add_argument("on_hand", type=int)
    stock.set_defaults(run=cmd_warehouse_stock)
    commands.add_parser("list", help="list warehouses").set_defaults(run=cmd_warehouse_list)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="portal", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the web app (worker embedded on SQLite)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--no-worker", action="store_true", help="do not embed the worker")
    serve.add_argument(
        "--workers", type=int, default=None, help="web processes (default PORTAL_WEB_WORKERS, 1)"
    )
    serve.set_defaults(run=cmd_serve)
    worker = commands.add_parser("worker", help="run background jobs until SIGTERM or Ctrl-C")
    worker.add_argument(
        "--name",
        help="this worker's name, the same at every restart and its own on this host "
        "(default: PORTAL_WORKER_NAME, else 'worker')",
    )
    worker.set_defaults(run=cmd_worker)
    commands.add_parser("migrate", help="upgrade the database schema").set_defaults(run=cmd_migrate)
    backup = commands.add_parser(
        "backup", help="copy the SQLite database to DEST while it serves (PostgreSQL: pg_dump)"
    )
    backup.add_argument("destination", metavar="DEST", help="the backup file to write")
    backup.add_argument("--force", action="store_true", help="replace DEST if it exists")
    backup.set_defaults(run=cmd_backup)
    commands.add_parser(
        "rotate-data-key",
        help="reseal phones and streets under the first PORTAL_DATA_KEYS key (safe while serving)",
    ).set_defaults(run=cmd_rotate_data_key)
    commands.add_parser("demo", help="seed demo data (safe to run twice)").set_defaults(
        run=cmd_demo
    )
    link = commands.add_parser("link", help="print customer links for an order")
    link.add_argument("order_no")
    link.set_defaults(run=cmd_link)
    shops = commands.add_parser("shops", help="the shops of the shops file")
    shop_commands = shops.add_subparsers(dest="shops_command", required=True)
    shop_commands.add_parser("sync", help="upsert the Shop rows from the shops file").set_defaults(
        run=cmd_shops_sync
    )
    settings = commands.add_parser("settings", help="check the PORTAL_* settings")
    settings.add_argument(
        "--env-example", action="store_true", help="print every setting as .env.example has it"
    )
    settings.set_defaults(run=cmd_settings)
    staff = commands.add_parser("staff", help="manage staff accounts")
    _add_staff_commands(staff.add_subparsers(dest="staff_command", required=True))
    warehouse = commands.add_parser("warehouse", help="warehouses and their stock")
    _add_warehouse_commands(warehouse.add_subparsers(dest="warehouse_command", required=True))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()  # SettingsError: a misspelt name, a bad value or list
        settings.install_keyring()  # migrate seals rows with it; every command reads with it
        check_format(settings.log_format)
        check_multiprocess_directory()
    except ValueError as refused:  # SettingsError, or a data key that is not one
        print(f"portal: {refused}", file=sys.stderr)
        return 2
    return int(args.run(settings, args))


if __name__ == "__main__":
    raise SystemExit(main())
