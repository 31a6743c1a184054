"""The lookup form: one uniform answer, rate limits, and htmx partials."""

from tests.factories import make_order
from tests.portal.helpers import csrf_token


def post_lookup(client, order_no, digits, htmx=False):
    token = csrf_token(client)
    headers = {"HX-Request": "true", "X-CSRF-Token": token} if htmx else {}
    return client.post(
        "/lookup",
        data={"order_no": order_no, "phone_last4": digits, "csrf_token": token},
        headers=headers,
        follow_redirects=False,
    )


def test_the_right_number_and_digits_sign_the_customer_in(client, database):
    order = make_order(database, phone="13912345678")
    response = post_lookup(client, order.public_no, "5678")
    assert response.status_code == 303
    assert response.headers["location"] == f"/orders/{order.public_no}"
    assert client.get(response.headers["location"]).status_code == 200


def test_htmx_lookups_navigate_with_hx_redirect(client, database):
    order = make_order(database, phone="13912345678")
    response = post_lookup(client, order.channel_order_no, "5678", htmx=True)
    assert response.status_code == 200
    assert response.headers["hx-redirect"] == f"/orders/{order.public_no}"


def test_a_wrong_phone_and_an_unknown_order_get_the_same_answer(client, database):
    order = make_order(database, phone="13912345678")
    wrong_phone = post_lookup(client, order.public_no, "0000")
    unknown = post_lookup(client, "NO-SUCH-ORDER", "5678")
    assert wrong_phone.status_code == unknown.status_code == 422
    message = "未找到与该订单号和手机号匹配的订单"
    assert message in wrong_phone.text and message in unknown.text


def test_a_failed_htmx_lookup_returns_only_the_form(client, database):
    response = post_lookup(client, "NOPE", "1234", htmx=True)
    assert response.status_code == 422
    assert response.text.lstrip().startswith('<form id="lookup_form"')


def test_the_sixth_wrong_guess_is_rate_limited_and_so_is_the_right_one(client, database):
    order = make_order(database, phone="13912345678")
    answers = [post_lookup(client, order.public_no, "0000").status_code for _ in range(6)]
    assert answers == [422] * 5 + [429]
    limited = post_lookup(client, order.public_no, "5678")
    assert limited.status_code == 429 and "尝试次数过多" in limited.text


def test_garbage_input_gets_a_clear_answer_not_an_error(client):
    for order_no, digits in [
        ("", ""),
        ("x" * 5000, "12345678901"),
        ("\x00\x01", "ab"),
        ("订单", "一二三四"),
    ]:
        assert post_lookup(client, order_no, digits).status_code == 422
