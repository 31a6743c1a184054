"""Parsing pasted address text into the fields of the address form."""

import dataclasses
import random

import pytest

from backend.orders.address_parsing import AddressField, ParsedAddress, parse_address
from backend.orders.divisions import is_valid_division

SH, ZJ, GD = "上海市", "浙江省", "广东省"
WEST_LAKE = (ZJ, "杭州市", "西湖区")
PUDONG = (SH, SH, "浦东新区")

# (pasted text, recipient name, phone, (province, city, district), street)
REALISTIC = [
    (
        "张三 13800138000 浙江省杭州市西湖区文三路100号",
        "张三",
        "13800138000",
        WEST_LAKE,
        "文三路100号",
    ),
    (
        "收货人：李四，电话:138-0013-8000，地址：上海市浦东新区张杨路500号",
        "李四",
        "13800138000",
        PUDONG,
        "张杨路500号",
    ),
    (
        "13800138000 王五 广东深圳南山区科技园南区高新南一道9号",
        "王五",
        "13800138000",
        (GD, "深圳市", "南山区"),
        "科技园南区高新南一道9号",
    ),
    (
        "+86 138 0013 8000 赵六 北京市朝阳区建国路88号",
        "赵六",
        "13800138000",
        ("北京市", "北京市", "朝阳区"),
        "建国路88号",
    ),
    (
        "浙江省杭州市西湖区文三路100号 张三 13800138000",
        "张三",
        "13800138000",
        WEST_LAKE,
        "文三路100号",
    ),
    (
        "张三\n13800138000\n浙江省 杭州市 西湖区 文三路100号",
        "张三",
        "13800138000",
        WEST_LAKE,
        "文三路100号",
    ),
    (
        "张三，86-13800138000，浙江省 杭州市 西湖区 文三路100号 ，310012",
        "张三",
        "13800138000",
        WEST_LAKE,
        "文三路100号",
    ),
    (
        "上海 上海市 浦东新区 张杨路500号 李四 13800138000",
        "李四",
        "13800138000",
        PUDONG,
        "张杨路500号",
    ),
    (
        "地址：上海市浦东新区张杨路500号 李四 收 13800138000",
        "李四",
        "13800138000",
        PUDONG,
        "张杨路500号",
    ),
    ("李四13800138000上海浦东新区张杨路500号", "李四", "13800138000", PUDONG, "张杨路500号"),
    (
        "吉林市船营区北京路1号 孙七 13912345678",
        "孙七",
        "13912345678",
        ("吉林省", "吉林市", "船营区"),
        "北京路1号",
    ),
    (
        "重庆市城口县葛城街道1号 吴九 0086 139 1234 5678",
        "吴九",
        "13912345678",
        ("重庆市", "重庆市", "城口县"),
        "葛城街道1号",
    ),
    (
        "湖北省仙桃市沙嘴街道仙桃大道1号 郑十 15012345678",
        "郑十",
        "15012345678",
        ("湖北省", "仙桃市", "沙嘴街道"),
        "仙桃大道1号",
    ),
    (
        "广东省东莞市虎门镇连升路1号 钱一 18612345678",
        "钱一",
        "18612345678",
        (GD, "东莞市", "虎门镇"),
        "连升路1号",
    ),
    (
        "恩施州恩施市舞阳大街1号 18612345678 冯二",
        "冯二",
        "18612345678",
        ("湖北省", "恩施土家族苗族自治州", "恩施市"),
        "舞阳大街1号",
    ),
    (
        "新疆乌鲁木齐市天山区解放北路1号 Li Lei 18612345678",
        "Li Lei",
        "18612345678",
        ("新疆维吾尔自治区", "乌鲁木齐市", "天山区"),
        "解放北路1号",
    ),
    (
        "收货人: 欧阳娜娜 手机号码: 13912345678 所在地区: 广西壮族自治区南宁市青秀区 "
        "详细地址: 民族大道100号",
        "欧阳娜娜",
        "13912345678",
        ("广西壮族自治区", "南宁市", "青秀区"),
        "民族大道100号",
    ),
    (
        "（收）张三 １３８００１３８０００ 浙江省杭州市西湖区文三路１００号",
        "张三",
        "13800138000",
        WEST_LAKE,
        "文三路100号",
    ),
    (
        "海南州共和县恰卜恰镇1号 13912345678 马三",
        "马三",
        "13912345678",
        ("青海省", "海南藏族自治州", "共和县"),
        "恰卜恰镇1号",
    ),
    (
        "江苏省苏州市工业园区星湖街328号 (+86)13912345678 陈四",
        "陈四",
        "13912345678",
        ("江苏省", "苏州市", "苏州工业园区"),
        "星湖街328号",
    ),
    (
        "张三 0571-88888888 浙江省杭州市西湖区文三路100号 3幢 201室",
        "张三",
        None,
        WEST_LAKE,
        "文三路100号 3幢 201室",
    ),
    ("北京市市辖区朝阳区建国路1号 王五", "王五", None, ("北京市", "北京市", "朝阳区"), "建国路1号"),
    ("河南省济源市沁园街道1号", None, None, ("河南省", "济源市", "沁园街道"), "1号"),
    ("广东省东莞市东城区东城路1号", None, None, (GD, "东莞市", "东城街道"), "东城路1号"),
]


@pytest.mark.parametrize(("text", "name", "phone", "division", "street"), REALISTIC)
def test_realistic_pastes_fill_every_field_they_contain(text, name, phone, division, street):
    parsed = parse_address(text)
    assert (parsed.recipient_name, parsed.phone) == (name, phone)
    assert (parsed.province, parsed.city, parsed.district) == division
    assert parsed.street == street
    assert is_valid_division(*division)


@pytest.mark.parametrize(
    ("text", "division", "street"),
    [
        ("浙江省杭州市文三路100号", (ZJ, "杭州市", None), "文三路100号"),
        ("浙江省西湖区文三路100号", WEST_LAKE, "文三路100号"),
        ("上海张杨路500号", (SH, SH, None), "张杨路500号"),
        ("辽宁朝阳县大平房镇1号", ("辽宁省", "朝阳市", "朝阳县"), "大平房镇1号"),
        ("广东省中山路1号", (GD, None, None), "中山路1号"),
        # 朝阳区 exists in 北京 and 长春: nothing is guessed and the text stays in the street.
        ("朝阳区建国路88号", (None, None, None), "朝阳区建国路88号"),
        # A short form followed by a road is the road: 西湖大道 is in 上城区.
        ("杭州西湖大道100号", (None, None, None), "杭州西湖大道100号"),
        ("湖南大学", (None, None, None), None),
        ("台湾省台北市信义路1号", (None, None, None), "台湾省台北市信义路1号"),
    ],
)
def test_divisions_are_filled_only_as_far_as_the_text_supports(text, division, street):
    parsed = parse_address(text)
    assert (parsed.province, parsed.city, parsed.district) == division
    assert parsed.street == street


def test_the_fields_not_found_are_listed_in_form_order():
    parsed = parse_address("浙江省杭州市文三路100号")
    assert parsed.unresolved == (
        AddressField.RECIPIENT_NAME,
        AddressField.PHONE,
        AddressField.DISTRICT,
    )
    assert [str(field) for field in parsed.unresolved] == ["recipient_name", "phone", "district"]


def test_a_complete_paste_leaves_nothing_unresolved():
    assert parse_address(REALISTIC[0][0]).unresolved == ()


def test_the_result_is_frozen():
    parsed = parse_address(REALISTIC[0][0])
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.street = "x"  # type: ignore[misc]


EVERYTHING_MISSING = tuple(AddressField)


@pytest.mark.parametrize(
    "text",
    ["", "   \n\t ", ",,,;;;:::", "\x00\x01\x02", "<>", "。。。、、、", "\ud800\udfff", "🙂🙂🙂"],
)
def test_empty_or_junk_input_resolves_nothing(text):
    assert parse_address(text) == ParsedAddress(
        None, None, None, None, None, None, EVERYTHING_MISSING
    )


def test_script_tags_and_their_content_are_dropped():
    parsed = parse_address(
        '<script>alert("x")</script>张三 13800138000 '
        "<b>浙江省杭州市西湖区</b>文三路100号<img src=x>"
    )
    assert parsed.recipient_name == "张三"
    assert (parsed.province, parsed.city, parsed.district) == WEST_LAKE
    assert parsed.street == "文三路100号"


def test_an_unclosed_script_tag_swallows_the_rest_rather_than_leaking_into_the_street():
    parsed = parse_address("浙江省杭州市西湖区文三路100号<script>alert(1)")
    assert parsed.street == "文三路100号"


def test_control_and_bidi_characters_are_removed():
    parsed = parse_address("\x00张三\x7f 13800138000 浙江省杭州市\u202e西湖区文三路100号\u200b")
    assert parsed.recipient_name == "张三"
    assert (parsed.province, parsed.city, parsed.district) == WEST_LAKE
    assert parsed.street == "文三路100号"


def test_a_5000_character_paste_is_parsed_from_its_beginning_without_error():
    parsed = parse_address("张三 13800138000 浙江省杭州市西湖区文三路100号" + "号" * 5000)
    assert parsed.phone == "13800138000"
    assert (parsed.province, parsed.city, parsed.district) == WEST_LAKE
    assert parsed.street is not None and len(parsed.street) < 1000


def test_a_5000_character_run_of_division_names_is_parsed_without_error():
    parsed = parse_address("浙江省杭州市西湖区" * 600)
    assert (parsed.province, parsed.city, parsed.district) == WEST_LAKE


@pytest.mark.parametrize(
    "text",
    [
        "13800138000 13900139000 张三 上海市黄浦区南京东路1号",
        "张三 13800138000 李四 13900139000 上海市黄浦区南京东路1号",
    ],
)
def test_with_several_numbers_the_first_is_taken(text):
    assert parse_address(text).phone == "13800138000"


@pytest.mark.parametrize("text", ["138001380001", "1380013800", "12800138000", "2813800138000"])
def test_digit_runs_that_are_not_a_mobile_number_are_not_read_as_one(text):
    assert parse_address(f"张三 {text} 浙江省杭州市西湖区文三路100号").phone is None


def test_random_garbage_never_raises():
    pool = (
        "张三李四浙江省杭州市西湖区上海路号0123456789 +-,:;，：\n\t<>/&\x00\u200b\u202e\ud800🙂abc"
    )
    generator = random.Random(20240601)
    for _ in range(300):
        text = "".join(generator.choice(pool) for _ in range(generator.randint(0, 200)))
        parsed = parse_address(text)
        assert isinstance(parsed, ParsedAddress)
        if parsed.district is not None:
            assert is_valid_division(parsed.province, parsed.city, parsed.district)
