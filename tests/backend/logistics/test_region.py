"""The district-level address line on the tracking page."""

import pytest

from backend.tracking_page import region_of


@pytest.mark.parametrize(
    ("province", "city", "district", "shown"),
    [
        ("浙江省", "杭州市", "西湖区", "浙江省 杭州市 西湖区"),
        ("上海市", "上海市", "浦东新区", "上海市 浦东新区"),
        ("北京市", "北京市", "朝阳区", "北京市 朝阳区"),
        ("广东省", "东莞市", "松山湖街道", "广东省 东莞市 松山湖街道"),
        ("湖北省", "仙桃市", "", "湖北省 仙桃市"),
    ],
)
def test_a_municipality_is_named_once(province, city, district, shown):
    assert region_of(province, city, district) == shown
