"""The allocation rule table: stock first, then nearness, then priority; split only when needed."""

import pytest

from backend.orders.allocation import (
    NO_TRANSFERS,
    REGIONS,
    Candidate,
    LeadTimes,
    Line,
    Nearness,
    nearness,
    parse_lead_times,
    plan_order,
    propose_transfer,
    province_key,
    rank,
    region_of,
)

HZ = Candidate(1, "HZ", "浙江省", priority=2)
SH = Candidate(2, "SH", "上海市", priority=1)
BJ = Candidate(3, "BJ", "北京市", priority=1)
GZ = Candidate(4, "GZ", "广东省", serves=("海南", "华中"), priority=5)
ALL = (HZ, SH, BJ, GZ)
TEA, CUP = 10, 20


def test_every_province_of_the_mainland_has_one_of_the_seven_regions():
    assert len(REGIONS) == 34  # 31 mainland divisions, Hong Kong, Macao, Taiwan
    assert set(REGIONS.values()) == {"华东", "华北", "华南", "华中", "西南", "西北", "东北"}


@pytest.mark.parametrize(
    ("name", "key", "region"),
    [
        ("浙江省", "浙江", "华东"),
        ("浙江", "浙江", "华东"),
        ("广西壮族自治区", "广西", "华南"),
        ("内蒙古自治区", "内蒙古", "华北"),
        ("黑龙江省", "黑龙江", "东北"),
        ("新疆维吾尔自治区", "新疆", "西北"),
        ("重庆市", "重庆", "西南"),
        ("香港特别行政区", "香港", "华南"),
        ("Nowhere", "Nowhere", None),
    ],
)
def test_a_province_name_in_any_of_its_forms_finds_its_region(name, key, region):
    assert (province_key(name), region_of(name)) == (key, region)


@pytest.mark.parametrize(
    ("warehouse", "destination", "expected"),
    [
        (HZ, "浙江省", Nearness.SAME_PROVINCE),
        (HZ, "江苏省", Nearness.SAME_REGION),
        (HZ, "北京市", Nearness.ELSEWHERE),
        (GZ, "海南省", Nearness.SAME_PROVINCE),  # served as if local
        (GZ, "湖北省", Nearness.SAME_REGION),  # serves the whole of 华中
        (GZ, "四川省", Nearness.ELSEWHERE),
        (Candidate(9, "X", ""), "浙江省", Nearness.ELSEWHERE),  # no province known
        (HZ, "", Nearness.ELSEWHERE),
    ],
)
def test_nearness_is_same_province_then_same_region_then_elsewhere(
    warehouse, destination, expected
):
    assert nearness(warehouse, destination) == expected


def test_rank_puts_the_nearer_first_and_priority_only_breaks_ties():
    assert [w.code for w in rank(ALL, "浙江省")] == ["HZ", "SH", "BJ", "GZ"]
    assert [w.code for w in rank(ALL, "江苏省")] == ["SH", "HZ", "BJ", "GZ"]
    assert [w.code for w in rank(ALL, "西藏自治区")] == ["BJ", "SH", "HZ", "GZ"]


def test_the_nearest_warehouse_with_the_stock_ships_the_whole_order():
    lines = [Line(1, TEA, 2), Line(2, CUP, 1)]
    free = {(1, TEA): 5, (1, CUP): 5, (2, TEA): 5, (2, CUP): 5}
    assert plan_order(lines, ALL, free, "浙江省").picks == ((1, 1), (2, 1))
    assert plan_order(lines, ALL, free, "上海市").picks == ((1, 2), (2, 2))


def test_stock_comes_before_nearness():
    free = {(1, TEA): 1, (3, TEA): 9}
    plan = plan_order([Line(1, TEA, 2)], ALL, free, "浙江省")
    assert (plan.picks, plan.short) == (((1, 3),), ())


def test_one_farther_warehouse_holding_everything_beats_a_split_across_nearer_ones():
    lines = [Line(1, TEA, 1), Line(2, CUP, 1)]
    free = {(1, TEA): 1, (2, CUP): 1, (3, TEA): 1, (3, CUP): 1}
    assert plan_order(lines, ALL, free, "浙江省").warehouse_ids == {3}


def test_an_order_is_split_only_when_no_single_warehouse_holds_it_all():
    lines = [Line(1, TEA, 1), Line(2, CUP, 1)]
    free = {(1, TEA): 1, (2, CUP): 1}
    plan = plan_order(lines, ALL, free, "浙江省")
    assert (plan.picks, plan.short) == (((1, 1), (2, 2)), ())


def test_two_lines_of_one_sku_count_together_against_a_warehouse():
    lines = [Line(1, TEA, 2), Line(2, TEA, 2)]
    free = {(1, TEA): 3, (2, TEA): 4}
    assert plan_order(lines, ALL, free, "浙江省").picks == ((1, 2), (2, 2))


def test_a_line_no_single_warehouse_holds_is_short_and_never_split():
    free = {(1, TEA): 2, (2, TEA): 2}
    plan = plan_order([Line(1, TEA, 3)], ALL, free, "浙江省")
    assert (plan.picks, plan.short) == ((), (1,))


def test_a_transfer_tops_up_the_nearest_warehouse_from_one_a_day_away():
    free = {(1, TEA): 2, (2, TEA): 2, (3, TEA): 9}
    transfer = propose_transfer(Line(1, TEA, 3), ALL, free, "浙江省", LeadTimes())
    assert transfer is not None
    assert (transfer.source_id, transfer.target_id, transfer.quantity, transfer.days) == (
        2,
        1,
        1,
        1,
    )


def test_no_transfer_is_proposed_when_only_a_slow_route_has_the_units():
    free = {(1, TEA): 2, (3, TEA): 9}  # Beijing has them: three days to Hangzhou
    assert propose_transfer(Line(1, TEA, 3), ALL, free, "浙江省", LeadTimes()) is None
    fast = LeadTimes(overrides={("BJ", "HZ"): 1})
    transfer = propose_transfer(Line(1, TEA, 3), ALL, free, "浙江省", fast)
    assert transfer is not None and (transfer.source_id, transfer.quantity) == (3, 1)
    assert propose_transfer(Line(1, TEA, 3), ALL, free, "浙江省", NO_TRANSFERS) is None


def test_lead_times_read_from_the_setting_text_and_refuse_a_malformed_pair():
    assert parse_lead_times(" sh>hz=1, GZ>SH=2 ,") == {("SH", "HZ"): 1, ("GZ", "SH"): 2}
    assert parse_lead_times("") == {}
    for bad in ("SH=1", "SH>HZ", "SH>HZ=x", ">HZ=1"):
        with pytest.raises(ValueError):
            parse_lead_times(bad)
