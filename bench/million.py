"""The scale set: N bank debtors × N court parties (default 1,000,000 each), Chinese persons, streamed to CSV.

Half of the court rows are debtors from the bank file as the court recorded them: masked, 15-digit or
missing resident IDs, traditional characters and sound-alike characters in names, other date formats,
changed phones, moved addresses. The other half are other people, some with a debtor's name. Rows are
produced in chunks of 50,000 people, each chunk from its own seeded generator, so memory stays flat
and the files are the same for a seed whatever the machine.

``python -m bench.million --out DIR [--people N] [--seed S]`` writes ``left.csv`` (bank), ``right.csv``
(court) and ``truth.csv`` (left_id,right_id).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import itertools
import random
import time
from dataclasses import dataclass
from pathlib import Path

Record = dict[str, str]
HEADER = ("id", "name", "id_number", "birth_date", "gender", "phone", "address", "city", "region")
CHUNK = 50_000
DUPLICATE_SHARE = 0.5  # of court rows that are bank debtors


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# Common surnames with their approximate share of the population (per mille), and a few compound ones.
SURNAMES = (
    "王71 李70 张67 刘54 陈46 杨31 黄22 赵20 吴19 周19 徐15 孙15 马14 朱13 胡13 郭11 何11 高10 林10 罗9 "
    "郑9 梁9 谢8 宋8 唐8 许7 韩7 冯7 邓7 曹7 彭6 曾6 肖6 田6 董5 袁5 潘5 于5 蒋5 蔡5 余5 杜5 叶4 程4 "
    "苏4 魏4 吕4 丁4 任4 沈4 姚3 卢3 姜3 崔3 钟3 谭3 陆3 汪3 范3 金3 石3 廖3 贾3 夏3 韦3 付3 方3 白2 "
    "邹2 孟2 熊2 秦2 邱2 江2 尹2 薛2 闫2 段2 雷2 侯2 龙2 史2 陶2 黎2 贺2 顾2 毛2 郝2 龚2 邵2 万2 钱2 "
    "欧阳1 司马1 上官1 诸葛1 东方1 皇甫1"
)
GIVEN_CHARS = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂兰华建国玉梅红燕飞鹏辉宇浩凯晨欣怡婷雪琳"
    "晶慧佳颖丹倩文斌波志宏海峰亮林成东旭阳龙俊博子涵梓轩思雨若一诺嘉瑞泽睿天佑志强春秋冬云"
    "霖琪璐瑶萍莉蕾薇婧玮铭韬洁君钢萍虹瑛桦"
)
# (county code, province, city, district)
COUNTIES = (
    ("110101", "北京市", "北京市", "东城区"),
    ("110105", "北京市", "北京市", "朝阳区"),
    ("110108", "北京市", "北京市", "海淀区"),
    ("120101", "天津市", "天津市", "和平区"),
    ("310101", "上海市", "上海市", "黄浦区"),
    ("310104", "上海市", "上海市", "徐汇区"),
    ("310115", "上海市", "上海市", "浦东新区"),
    ("500103", "重庆市", "重庆市", "渝中区"),
    ("130102", "河北省", "石家庄市", "长安区"),
    ("140105", "山西省", "太原市", "小店区"),
    ("210102", "辽宁省", "沈阳市", "和平区"),
    ("220102", "吉林省", "长春市", "南关区"),
    ("230102", "黑龙江省", "哈尔滨市", "道里区"),
    ("320102", "江苏省", "南京市", "玄武区"),
    ("320506", "江苏省", "苏州市", "吴中区"),
    ("330102", "浙江省", "杭州市", "上城区"),
    ("330106", "浙江省", "杭州市", "西湖区"),
    ("330203", "浙江省", "宁波市", "海曙区"),
    ("340102", "安徽省", "合肥市", "瑶海区"),
    ("350102", "福建省", "福州市", "鼓楼区"),
    ("350103", "福建省", "福州市", "台江区"),
    ("350104", "福建省", "福州市", "仓山区"),
    ("350203", "福建省", "厦门市", "思明区"),
    ("350206", "福建省", "厦门市", "湖里区"),
    ("350583", "福建省", "泉州市", "南安市"),
    ("360102", "江西省", "南昌市", "东湖区"),
    ("370102", "山东省", "济南市", "历下区"),
    ("370202", "山东省", "青岛市", "市南区"),
    ("410102", "河南省", "郑州市", "中原区"),
    ("420102", "湖北省", "武汉市", "江岸区"),
    ("420106", "湖北省", "武汉市", "武昌区"),
    ("430102", "湖南省", "长沙市", "芙蓉区"),
    ("440103", "广东省", "广州市", "荔湾区"),
    ("440106", "广东省", "广州市", "天河区"),
    ("440304", "广东省", "深圳市", "福田区"),
    ("440305", "广东省", "深圳市", "南山区"),
    ("441900", "广东省", "东莞市", "东莞市"),
    ("450102", "广西壮族自治区", "南宁市", "兴宁区"),
    ("460105", "海南省", "海口市", "秀英区"),
    ("510104", "四川省", "成都市", "锦江区"),
    ("510107", "四川省", "成都市", "武侯区"),
    ("520102", "贵州省", "贵阳市", "南明区"),
    ("530102", "云南省", "昆明市", "五华区"),
    ("610102", "陕西省", "西安市", "新城区"),
    ("620102", "甘肃省", "兰州市", "城关区"),
    ("650102", "新疆维吾尔自治区", "乌鲁木齐市", "天山区"),
)
ROADS = _words(
    "中山路 人民路 解放路 建设路 和平路 新华路 胜利路 文化路 朝阳路 长江路 黄河路 南京路 北京路 "
    "五一路 东风路 青年路 工业路 学府路 滨江路 幸福路 光明路 友谊路 迎宾路 花园路 湖滨路 江滨大道 "
    "世纪大道 金融街 府前街 西大街"
)
COMPOUNDS = _words("阳光花园 锦绣家园 翠苑小区 金色家园 滨江花城 万科城 碧桂园 世纪新城 幸福里 春晖苑")
TRADITIONAL = dict(
    zip(
        "陈张刘杨黄赵吴孙马郑谢许韩冯邓罗叶苏吕钟谭陆顾龙贺龚万钱伟丽华红国玉梅燕飞鹏辉凯晨颖丹东阳龙俊涵轩诺泽云",
        "陳張劉楊黃趙吳孫馬鄭謝許韓馮鄧羅葉蘇呂鍾譚陸顧龍賀龔萬錢偉麗華紅國玉梅燕飛鵬輝凱晨穎丹東陽龍俊涵軒諾澤雲",
        strict=True,
    )
)
SOUND_ALIKE = dict(
    zip(
        "张章王汪刘柳杨阳吴伍徐许伟玮丽莉静婧芳方军君杰洁涛韬明铭华桦英瑛红虹平萍刚钢",
        "章张汪王柳刘阳杨伍吴许徐玮伟莉丽婧静方芳君军洁杰韬涛铭明桦华瑛英虹红萍平钢刚",
        strict=True,
    )
)
MOBILE_PREFIXES = _words(
    "130 131 132 133 135 136 137 138 139 150 151 152 157 158 159 166 177 180 181 186 187 188 189 199"
)
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
BIRTH_FIRST = dt.date(1950, 1, 1)
BIRTH_DAYS = (dt.date(2003, 12, 31) - BIRTH_FIRST).days


def _parse_weighted(spec: str) -> tuple[list[str], list[int]]:
    names, weights = [], []
    for token in spec.split():
        name = token.rstrip("0123456789")
        names.append(name)
        weights.append(int(token[len(name) :]))
    return names, list(itertools.accumulate(weights))


SURNAME_VALUES, SURNAME_CUM_WEIGHTS = _parse_weighted(SURNAMES)


def check_digit(first17: str) -> str:
    """GB 11643 check character of an 18-digit resident ID."""
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def resident_id(county: str, birth: dt.date, sequence: int) -> str:
    first17 = f"{county}{birth:%Y%m%d}{sequence:03d}"
    return first17 + check_digit(first17)


@dataclass
class PersonFactory:
    """Draws people from one seeded generator; ``used_ids`` keeps resident IDs unique across chunks."""

    rng: random.Random
    used_ids: set[int]

    def name(self) -> str:
        surname = self.rng.choices(SURNAME_VALUES, cum_weights=SURNAME_CUM_WEIGHTS)[0]
        return surname + "".join(
            self.rng.choice(GIVEN_CHARS) for _ in range(1 if self.rng.random() < 0.3 else 2)
        )

    def address(self, county: tuple[str, str, str, str]) -> str:
        _, province, city, district = county
        rng = self.rng
        town = city if city != province else ""
        return (
            f"{province}{town}{district}{rng.choice(ROADS)}{rng.randint(1, 999)}号"
            f"{rng.choice(COMPOUNDS)}{rng.randint(1, 30)}栋{rng.randint(1, 28)}0{rng.randint(1, 6)}室"
        )

    def phone(self) -> str:
        return f"{self.rng.choice(MOBILE_PREFIXES)}{self.rng.randrange(10**8):08d}"

    def person(self) -> Record:
        rng = self.rng
        birth = BIRTH_FIRST + dt.timedelta(days=rng.randrange(BIRTH_DAYS))
        origin = rng.choice(COUNTIES)
        living = origin if rng.random() < 0.6 else rng.choice(COUNTIES)
        while True:
            sequence = rng.randrange(1000)
            id_number = resident_id(origin[0], birth, sequence)
            key = int(id_number[:17])
            if key not in self.used_ids:
                self.used_ids.add(key)
                break
        return {
            "name": self.name(),
            "id_number": id_number,
            "birth_date": birth.isoformat(),
            "gender": "男" if sequence % 2 else "女",
            "phone": self.phone() if rng.random() < 0.9 else "",
            "address": self.address(living),
            "city": living[2],
            "region": living[1],
        }

    def as_court_recorded(self, bank: Record) -> Record:
        """The same debtor as a court record shows them."""
        rng, court = self.rng, dict(bank)
        roll = rng.random()
        if roll < 0.15:
            court["id_number"] = f"{bank['id_number'][:6]}********{bank['id_number'][-4:]}"
        elif roll < 0.35:
            court["id_number"] = ""
        elif roll < 0.40:
            court["id_number"] = bank["id_number"][:6] + bank["id_number"][8:17]  # the old 15-digit form
        elif roll < 0.45:
            i = rng.randrange(6, 17)
            court["id_number"] = bank["id_number"][:i] + rng.choice("0123456789") + bank["id_number"][i + 1 :]
        court["name"] = self.court_name(bank["name"])
        roll = rng.random()
        if roll < 0.3:
            court["birth_date"] = ""
        elif roll < 0.36:
            born = dt.date.fromisoformat(bank["birth_date"])
            court["birth_date"] = f"{born.year}年{born.month}月{born.day}日"
        elif roll < 0.4:
            court["birth_date"] = bank["birth_date"].replace("-", "")
        roll = rng.random()
        if roll < 0.25:
            court["phone"] = self.phone()
        elif roll < 0.5:
            court["phone"] = ""
        roll = rng.random()
        if roll < 0.3:
            moved_to = rng.choice(COUNTIES)
            court.update(address=self.address(moved_to), city=moved_to[2], region=moved_to[1])
        elif roll < 0.4:
            court.update(address="", city="")
        elif roll < 0.6:
            court["address"] = court["address"].removeprefix(court["region"])
        return court

    def court_name(self, name: str) -> str:
        rng, roll = self.rng, self.rng.random()
        if roll < 0.04:
            return "".join(TRADITIONAL.get(c, c) for c in name)
        if roll < 0.07:
            swappable = [i for i, c in enumerate(name) if c in SOUND_ALIKE]
            if swappable:
                i = rng.choice(swappable)
                return name[:i] + SOUND_ALIKE[name[i]] + name[i + 1 :]
        if roll < 0.08 and len(name) == 3:
            return name[:2]
        return name


def write_million(out_dir: Path, people: int = 1_000_000, seed: int = 20_240_601) -> tuple[int, int, int]:
    """Stream ``people`` bank rows and as many court rows to ``out_dir``.

    Returns the number of left rows, right rows and true pairs."""
    out_dir.mkdir(parents=True, exist_ok=True)
    used_ids: set[int] = set()
    counts = [0, 0, 0]
    with (
        (out_dir / "left.csv").open("w", newline="", encoding="utf-8") as left_file,
        (out_dir / "right.csv").open("w", newline="", encoding="utf-8") as right_file,
        (out_dir / "truth.csv").open("w", newline="", encoding="utf-8") as truth_file,
    ):
        left_writer = csv.DictWriter(left_file, fieldnames=HEADER)
        right_writer = csv.DictWriter(right_file, fieldnames=HEADER)
        truth_writer = csv.writer(truth_file)
        left_writer.writeheader()
        right_writer.writeheader()
        truth_writer.writerow(("left_id", "right_id"))
        for chunk, start in enumerate(range(0, people, CHUNK)):
            size = min(CHUNK, people - start)
            factory = PersonFactory(random.Random(f"million:{seed}:{chunk}"), used_ids)
            bank = [{"id": f"L{start + i:07d}", **factory.person()} for i in range(size)]
            left_writer.writerows(bank)
            court: list[tuple[Record, str | None]] = []
            for debtor in bank:
                if factory.rng.random() < DUPLICATE_SHARE:
                    court.append((factory.as_court_recorded(debtor), debtor["id"]))
            while len(court) < size:
                stranger = factory.person()
                if factory.rng.random() < 0.1:
                    stranger["name"] = factory.rng.choice(bank)["name"]  # a namesake
                court.append((stranger, None))
            factory.rng.shuffle(court)
            for i, (row, bank_id) in enumerate(court):
                row["id"] = f"C{start + i:07d}"
                if bank_id is not None:
                    truth_writer.writerow((bank_id, row["id"]))
                    counts[2] += 1
            right_writer.writerows(row for row, _ in court)
            counts[0] += size
            counts[1] += len(court)
    return counts[0], counts[1], counts[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--people", type=int, default=1_000_000, help="rows in each file")
    parser.add_argument("--seed", type=int, default=20_240_601)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    left, right, pairs = write_million(args.out, args.people, args.seed)
    print(f"{left} left, {right} right, {pairs} true pairs in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
