"""The last log filter: link credentials, query strings and phone numbers never get written."""

from __future__ import annotations

import io
import logging

import pytest
from sqlalchemy.exc import IntegrityError
from uvicorn.logging import AccessFormatter

from portal.logging_filters import RedactPersonalData, redact
from tests.backend.test_db_errors import refused_insert


@pytest.mark.parametrize(
    ("line", "logged"),
    [
        ('"GET /t/AbCd2345 HTTP/1.1" 303', '"GET /t/<code> HTTP/1.1" 303'),
        ("GET /o/eyJvIjo0Mn0.Zx-1_a.sig?x=1", "GET /o/<token>"),
        ("POST /webhooks/sf/sf-path-token-0123", "POST /webhooks/sf/<token>"),
        ("GET /admin/orders?q=13917263548 HTTP/1.1", "GET /admin/orders HTTP/1.1"),
        ("GET /admin/orders?q=%E6%96%87%E4%B8%89%E8%B7%AF", "GET /admin/orders"),
        ("GET /language?to=en&next=/orders/1", "GET /language"),
        (
            "POST https://api.weixin.qq.com/cgi-bin/message/subscribe/send?access_token=SeCrEt",
            "POST https://api.weixin.qq.com/cgi-bin/message/subscribe/send",
        ),
        ("rejected 13917263548", "rejected <phone>"),
        ("to +86 139-1726-3548.", "to <phone>."),
        ("to 8613917263548,", "to <phone>,"),
        ("call 139 1726 3548 now", "call <phone> now"),
        # Order, waybill and job numbers are longer runs of digits; SQL keeps its placeholders.
        (
            "order 26120224956927 waybill SF1234567890123",
            "order 26120224956927 waybill SF1234567890123",
        ),
        (
            "UPDATE jobs SET last_error=? WHERE jobs.id = ?",
            "UPDATE jobs SET last_error=? WHERE jobs.id = ?",
        ),
        (
            "job 12 (notify.send) failed: NotificationUnavailable",
            "job 12 (notify.send) failed: NotificationUnavailable",
        ),
    ],
)
def test_redact_keeps_the_shape_and_drops_the_secret(line, logged):
    assert redact(line) == logged


@pytest.fixture
def written():
    """A real logger and handler with the filter, and what the handler wrote."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactPersonalData())
    logger = logging.getLogger("tests.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)
    logger.propagate = True


def test_arguments_messages_and_tracebacks_are_masked(written):
    logger, stream = written
    logger.warning("send to %s failed", "13917263548")
    logger.warning("opened /t/AbCd2345 for 13800138000")
    try:
        raise ValueError("provider said: throttled 13917263548, see https://x.cn/a?phone=139")
    except ValueError:
        logger.exception("job failed")
    text = stream.getvalue()
    assert "13917263548" not in text and "13800138000" not in text and "AbCd2345" not in text
    assert "phone=139" not in text
    assert text.count("<phone>") >= 3 and "/t/<code>" in text and "ValueError: provider" in text


def test_uvicorns_access_formatter_still_reads_the_masked_arguments():
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/admin/orders?q=13917263548", "1.1", 200),
        None,
    )
    RedactPersonalData().filter(record)
    line = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s').format(record)
    assert line == '127.0.0.1:5000 - "GET /admin/orders HTTP/1.1" 200 OK'


def test_a_database_error_in_a_log_line_names_neither_parameters_nor_the_failing_row(
    database, written
):
    logger, stream = written
    error = refused_insert(database, "code-13917263548-文三路100号")
    try:
        raise error
    except IntegrityError:
        logger.exception("unhandled error on POST /orders/1/address")
    text = stream.getvalue()
    assert "IntegrityError" in text and "INSERT INTO short_links" in text
    assert "13917263548" not in text and "文三路100号" not in text
