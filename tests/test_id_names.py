"""Person and company names: normalisation, annotations, former names, legal forms, surnames."""

from __future__ import annotations

import pytest

from matchers.identifiers import (
    PersonName,
    is_company_name,
    normalize_company_name,
    normalize_person_name,
    split_chinese_name,
)


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("张伟", "张伟"),
        ("  张伟  ", "张伟"),
        ("张 伟", "张伟"),
        ("张\u3000伟", "张伟"),
        ("張偉", "张伟"),
        ("陳美玲", "陈美玲"),
        ("歐陽娜娜", "欧阳娜娜"),
        ("陳美玲\u200b", "陈美玲"),
        ("\ufeff王小明", "王小明"),
        ("张三,", "张三"),
        ("买买提·艾力", "买买提·艾力"),
        ("买买提.艾力", "买买提·艾力"),
        ("买买提•艾力", "买买提·艾力"),
        ("买买提．艾力", "买买提·艾力"),
        ("买买提・艾力", "买买提·艾力"),
        ("买买提‧艾力", "买买提·艾力"),
        ("买买提 · 艾力", "买买提·艾力"),
        ("阿卜杜拉·买买提·艾力", "阿卜杜拉·买买提·艾力"),
        ("JOHN SMITH", "john smith"),
        ("John   Smith", "john smith"),
        ("Johann STRAUß", "johann strauss"),  # case-folded, not just lower-cased
        ("ＪＯＨＮ　ＳＭＩＴＨ", "john smith"),
        ("Dr. John Smith", "dr. john smith"),  # '.' between Latin letters is not a middle dot
        ("", ""),
        ("   ", ""),
    ],
)
def test_normalize_person_name(raw: str, normalized: str) -> None:
    name = normalize_person_name(raw)
    assert name.original == raw
    assert name.normalized == normalized
    assert name.former_names == ()


@pytest.mark.parametrize(
    ("raw", "normalized", "former"),
    [
        ("张三（曾用名：李四）", "张三", ("李四",)),
        ("张三(曾用名:李四)", "张三", ("李四",)),
        ("张三（曾用名李四）", "张三", ("李四",)),
        ("張三（曾用名：李四）", "张三", ("李四",)),
        ("张三（原名：張小三）", "张三", ("张小三",)),
        ("王五(曾用名王六、王七)", "王五", ("王六", "王七")),
        ("王五【曾用名：王六，王七】", "王五", ("王六", "王七")),
        ("李四 曾用名：李小四", "李四", ("李小四",)),
        ("赵六【户主】", "赵六", ()),
        ("钱七（已故）", "钱七", ()),
        ("钱七 (已故)", "钱七", ()),
        ("孙八[备注:重复]", "孙八", ()),
        ("周九〔法定代表人〕", "周九", ()),
        ("吴十（曾用名：吴一）（已故）", "吴十", ("吴一",)),
        ("（已故）", "", ()),
        ("John Smith (曾用名 Jack Smith)", "john smith", ("jack smith",)),
        ("王五（曾用名 王六 王七）", "王五", ("王六", "王七")),
        ("Anna Lee (formerly) 原名: Anna Chan, Anne Chan", "anna lee", ("anna chan", "anne chan")),
    ],
)
def test_annotations_and_former_names(raw: str, normalized: str, former: tuple[str, ...]) -> None:
    assert normalize_person_name(raw) == PersonName(raw, normalized, former)


def test_normalisation_is_idempotent() -> None:
    for raw in ["張三（曾用名：李四）", "买买提.艾力", "JOHN  SMITH", "陳美玲"]:
        once = normalize_person_name(raw).normalized
        assert normalize_person_name(once).normalized == once


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("福州市某某贸易有限责任公司", "福州市某某贸易有限公司"),
        ("福州市某某贸易有限公司", "福州市某某贸易有限公司"),
        ("某某科技股份有限公司", "某某科技股份有限公司"),
        ("某某科技股份有限公司福州分公司", "某某科技股份有限公司福州分公司"),
        ("某某有限责任公司福州分公司", "某某有限公司福州分公司"),
        ("某某（中国）有限公司", "某某(中国)有限公司"),
        ("某某(中国)有限公司", "某某(中国)有限公司"),
        ("某某【中国】有限公司", "某某(中国)有限公司"),
        ("某某 ( 中国 ) 有限公司", "某某(中国)有限公司"),
        ("華為技術（深圳）有限公司", "华为技术(深圳)有限公司"),
        ("某某贸易有限公司（已注销）", "某某贸易有限公司"),
        ("某某贸易有限公司(吊销，未注销)", "某某贸易有限公司"),
        ("新公司（原名：旧公司）", "新公司"),
        ("某某投资合伙企业（有限合伙）", "某某投资合伙企业(有限合伙)"),
        ("ＡＢＣ科技有限公司", "abc科技有限公司"),
        ("Acme  Trading Co., Ltd.", "acme trading co., ltd"),
        ("", ""),
    ],
)
def test_normalize_company_name(raw: str, normalized: str) -> None:
    assert normalize_company_name(raw) == normalized


def test_joint_stock_stays_distinct_from_limited() -> None:
    assert normalize_company_name("某某股份有限公司") != normalize_company_name("某某有限公司")
    assert normalize_company_name("某某有限责任公司") == normalize_company_name("某某有限公司")


@pytest.mark.parametrize(
    "company",
    [
        "福州市某某贸易有限公司",
        "某某集团",
        "某某农民专业合作社",
        "某某律师事务所",
        "某某设计工作室",
        "某某商行",
        "鼓楼区某某经营部",
        "福州市某某五金厂",
        "张记面馆",
        "鼓楼区某某五金店",
        "福州市体检中心",
        "中国银行",
        "福州第一中学学校",
        "福州市第一医院",
        "某某村村民委员会",
        "某某投资合伙企业(有限合伙)",
        "Acme Co., Ltd.",
        "Acme Inc.",
        "Foo Holdings LLC",
        "Siemens GmbH",
    ],
)
def test_is_company_name_true(company: str) -> None:
    assert is_company_name(company)


@pytest.mark.parametrize(
    "person",
    [
        "张伟",
        "王芳",
        "李中心",  # 中心 as a given name
        "王行",
        "陶行知",
        "张院",
        "欧阳娜娜",
        "司马相如",
        "诸葛亮",
        "陈店",
        "刘厂",
        "买买提·艾力",
        "John Smith",
        "Sa Ding",
        "",
    ],
)
def test_is_company_name_false_for_people(person: str) -> None:
    assert not is_company_name(person)


def test_typical_person_names_never_read_as_companies() -> None:
    # Every surname in the corpus with common given names: 2-4 characters, none a company.
    from matchers.refdata import family_names

    givens = ["伟", "芳", "中心", "小店", "志行", "建国", "院生", "厂长"]
    for family in family_names():
        for given in givens:
            name = family + given
            if len(name) <= 4 and not name.endswith(("小店", "厂长")):
                assert not is_company_name(name), name


@pytest.mark.parametrize(
    ("name", "split"),
    [
        ("张伟", ("张", "伟")),
        ("王小明", ("王", "小明")),
        ("欧阳娜娜", ("欧阳", "娜娜")),
        ("欧阳修", ("欧阳", "修")),
        ("司马光", ("司马", "光")),
        ("上官婉儿", ("上官", "婉儿")),
        ("诸葛亮", ("诸葛", "亮")),
        ("司徒雷登", ("司徒", "雷登")),
        ("慕容复", ("慕容", "复")),
        ("端木蕻良", ("端木", "蕻良")),
        ("夏侯惇", ("夏侯", "惇")),
        ("刘付强", ("刘", "付强")),  # 刘 alone is 1,000× more common than 刘付
        ("刘付文杰", ("刘付", "文杰")),
        ("欧阳", ("欧", "阳")),  # nothing left for a given name: not the compound
        ("王", ("王", "")),
        ("", ("", "")),
        ("买买提·艾力", ("", "买买提·艾力")),
        ("john smith", ("", "john smith")),
        (" 张伟 ", ("张", "伟")),
    ],
)
def test_split_chinese_name(name: str, split: tuple[str, str]) -> None:
    assert split_chinese_name(name) == split


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("沈默", "沈默"),  # a name, not the word 沉默: never converted as a phrase
        ("瀋默", "沈默"),
        ("乾隆", "乾隆"),
        ("乾小明", "乾小明"),  # the surname 乾 (qián) is not 干
        (" 乾隆 ", "乾隆"),  # leading whitespace must not hide the surname
        ("張偉", "张伟"),
        ("歐陽修", "欧阳修"),
        ("於丹", "於丹"),
        ("陳後發", "陈后发"),
    ],
)
def test_person_names_simplify_character_by_character_keeping_the_surname(raw: str, expected: str) -> None:
    assert normalize_person_name(raw).normalized == expected


SHORT_NAMES = [
    "张三",
    "李中心",
    "王公司",
    "陶行知",
    "欧阳",
    "某厂",
    "五金店",
    "張偉",
    "沈默",
    "于",
    "钱庄",
    "银行",
]


@pytest.mark.parametrize("name", SHORT_NAMES)
def test_short_plain_names_answer_as_the_general_path_does(name: str) -> None:
    """A short plain CJK name skips normalisation; spaces around it take the general path."""
    assert is_company_name(name) == is_company_name(f" {name} ")
    assert normalize_person_name(name).normalized == normalize_person_name(f" {name} ").normalized
