"""How old the tracking information is, said the way a person would say it."""

from datetime import timedelta

import pytest

from backend.clock import utcnow
from portal import i18n
from portal.rendering import updated_ago


@pytest.fixture
def locale():
    def use(name: str) -> None:
        i18n.set_locale(name)

    yield use
    i18n.set_locale(i18n.DEFAULT_LOCALE)


@pytest.mark.parametrize(
    ("age", "chinese", "english"),
    [
        (timedelta(seconds=5), "刚刚更新", "Updated just now"),
        (timedelta(seconds=59), "刚刚更新", "Updated just now"),
        (timedelta(minutes=1, seconds=1), "1 分钟前更新", "Updated 1 minute ago"),
        (timedelta(minutes=59), "59 分钟前更新", "Updated 59 minutes ago"),
        (timedelta(minutes=60), "1 小时前更新", "Updated 1 hour ago"),
        (timedelta(hours=23, minutes=59), "23 小时前更新", "Updated 23 hours ago"),
        (timedelta(days=3, hours=2), "3 天前更新", "Updated 3 days ago"),
        # A clock a little ahead of ours is "just now", not a negative age.
        (-timedelta(minutes=2), "刚刚更新", "Updated just now"),
    ],
)
def test_the_age_reads_naturally_in_both_languages(locale, age, chinese, english):
    synced_at = utcnow() - age
    locale("zh_CN")
    assert updated_ago(synced_at) == chinese
    locale("en")
    assert updated_ago(synced_at) == english
