"""``contactfix demo``: the pipeline on generated data, no arguments, no services."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from contactfix.cli.app import app
from contactfix.cli.tables import compact_table, print_table

if TYPE_CHECKING:
    from contactfix.demo import DemoResult, DispatchSummary, IntakeSummary, OutcomeSummary, ReconcileSummary

# contactfix.demo.DEFAULT_DEBTORS (a test checks): the demo module is imported only when it runs,
# as it pulls in the database and intake, which every other command would pay for at start-up.
DEFAULT_DEBTORS = 2000


@app.command(
    "demo",
    help="Run contactfix end to end on generated data, with no services: create a fresh SQLite "
    "database in a new temporary folder, generate a bank batch and a court export, take both in, "
    "link them into identities, rank every debtor's contacts and print what was accepted and "
    "rejected, how many debtors were repaired and a few of them with where their new phone was found "
    "(phones masked).\n\n"
    "The demo ignores CONTACTFIX_* settings: its database and outbox are always files in its own "
    "folder. The folder is kept and its path printed, so the database and files can be looked at "
    "afterwards; --clean removes it at the end.",
)
def demo(
    debtors: Annotated[
        int, typer.Option(min=1, max=1_000_000, help="Lost debtors to generate (court-only people as many).")
    ] = DEFAULT_DEBTORS,
    seed: Annotated[int, typer.Option(help="Seed of the generated data.")] = 0,
    keep: Annotated[
        bool, typer.Option("--keep/--clean", help="Keep the demo folder (default) or remove it at the end.")
    ] = True,
) -> None:
    """Run the demo and print its summary."""
    from contactfix.demo import make_folder, run_demo

    console = Console()
    folder = make_folder()
    console.print(f"演示目录 folder: {folder.path}", soft_wrap=True, highlight=False)
    try:
        result = run_demo(debtors, seed, folder)
    except BaseException:
        Console(stderr=True).print(f"demo stopped; its folder is kept: {folder.path}", soft_wrap=True)
        raise
    print_result(console, result)
    if keep:
        console.print(f"保留目录 folder kept: {folder.path}", soft_wrap=True, highlight=False)
    else:
        shutil.rmtree(folder.path, ignore_errors=True)
        console.print(f"已删除目录 folder removed: {folder.path}", soft_wrap=True, highlight=False)


# What a dispatch's state or a send's outcome is called on the screen; the English word stays beside
# it, as the states are spelled in the database, `dispatch status` and the logs.
STATE_NAMES = {
    "pending": "待发送", "deferred": "已延后", "sending": "发送中", "sent": "已发出", "delivered": "已送达",
    "failed": "失败", "dead": "已放弃", "blocked": "已拦截", "retrying": "重试中", "rate_limited": "限流等待",
    "taken": "他处处理中", "missing": "不存在", "sms": "短信", "bind": "呼叫路径", "unbind": "撤销呼叫路径",
}  # fmt: skip


def print_result(console: Console, result: DemoResult) -> None:
    """Print what each step of the demo did, in Chinese, each line led by its English key word (what
    operators grep). Issues are shown masked, as intake stored them."""
    console.print(f"数据库 database: {result.folder.database_url}", soft_wrap=True, highlight=False)
    if result.sample is not None:
        sample = result.sample
        console.print(
            f"样本 sample: bank.csv {sample.bank_rows:,} 名债务人，court.csv {sample.court_rows:,} 行"
            f"（种子 seed {result.seed}，用时 {sample.seconds:.1f} 秒）",
            highlight=False, soft_wrap=True,
        )  # fmt: skip
    counts = Table(title="接收 intake", title_justify="left")
    headers = {"file": "文件", "rows": "行数", "accepted": "接受", "rejected": "拒收", "warnings": "警告",
               "seconds": "秒"}  # fmt: skip
    for column, chinese in headers.items():
        counts.add_column(f"{chinese}\n{column}", justify="left" if column == "file" else "right")
    for summary in result.intake:
        counts.add_row(
            summary.file, f"{summary.rows:,}", f"{summary.accepted:,}", f"{summary.rejected:,}",
            f"{summary.warnings:,}", f"{summary.seconds:.1f}",
        )  # fmt: skip
    console.print(counts)
    for summary in result.intake:
        _print_issues(console, summary)
    if result.reconcile is not None:
        _print_reconcile(console, result.reconcile)
    if result.dispatch is not None:
        _print_dispatch(console, result.dispatch, result.folder.outbox_path)
    if result.outcomes is not None:
        _print_outcomes(console, result.outcomes)
    if result.funnel is not None:
        from contactfix.cli.commands_outcome import print_funnel

        print_funnel(console, result.funnel)
    console.print(f"用时 elapsed: {result.seconds:.1f} 秒", highlight=False)


def _print_outcomes(console: Console, summary: OutcomeSummary) -> None:
    said = (
        "、".join(f"{_RESULT_WORDS.get(k, k)} {k} {v:,}" for k, v in sorted(summary.reported.items())) or "–"
    )
    console.print(f"调解员反馈 outcomes (simulated): {said}", highlight=False, soft_wrap=True)
    console.print(
        f"次夜运行 next night: 号码错误后改派下一号码 redispatched {summary.redispatched:,}，"
        f"无号码可用 lost again {summary.lost_again:,}",
        highlight=False,
        soft_wrap=True,
    )


_RESULT_WORDS = {"reached": "接通本人", "wrong_number": "号码错误"}


def _print_issues(console: Console, summary: IntakeSummary) -> None:
    if summary.top_reasons:
        table = Table(title=f"{summary.file} 最常见的问题 most common issues", title_justify="left")
        for column, chinese in (("count", "次数"), ("severity", "级别"), ("field", "字段")):
            table.add_column(
                f"{chinese}\n{column}", justify="right" if column == "count" else "left", no_wrap=True
            )
        table.add_column("原因\nreason", overflow="fold")
        for reason in summary.top_reasons:
            table.add_row(f"{reason.count:,}", reason.severity, reason.field, reason.reason)
        console.print(table)
    for issue in summary.example_rejections:
        why = issue.reason.removeprefix("rejected: ")
        line = f"  拒收 rejected: {summary.file} 第 {issue.row} 行：{why}"
        console.print(line, highlight=False, markup=False, soft_wrap=True)


def _print_reconcile(console: Console, summary: ReconcileSummary) -> None:
    counts = summary.counts
    share = summary.repaired / summary.debtors if summary.debtors else 0.0
    console.print(
        f"对账 reconcile: 第 {summary.run_id} 次运行，关联 {counts.get('links', 0):,} 对，"
        f"{counts.get('ranked_debtors', 0):,} 名债务人的联系方式已排序，标记共用号码 "
        f"{counts.get('shared_phones', 0):,} 个（用时 {summary.seconds:.1f} 秒）",
        highlight=False,
        soft_wrap=True,  # sentences stay one line each (a terminal wraps them, Rich would at spaces)
    )
    console.print(
        f"修复 repaired: {summary.debtors:,} 名债务人中 {summary.repaired:,} 名（{share:.1%}）找到新号码，"
        "排在首位且置信度达标",
        highlight=False,
        soft_wrap=True,
    )
    if not summary.examples:
        return
    table = compact_table("已修复的债务人（前几名） repaired debtors")
    table.add_column("编号\nreference", no_wrap=True)
    # The new phone over the one the bank had: two columns of phones would leave the sources no room.
    table.add_column("新号码 new phone\n原号码 bank had", no_wrap=True)
    table.add_column("置信度\nconf.", no_wrap=True, justify="right")
    table.add_column("来源\nfound in", overflow="fold")  # one source a line, wrapped between words
    for example in summary.examples:
        phones = f"{example.phone}\n原 {example.lost_phone}" if example.lost_phone else example.phone
        table.add_row(
            example.reference, phones, f"{example.confidence:.3f}", example.sources.replace("; ", "\n"),
            end_section=True,
        )  # fmt: skip
    print_table(console, table)


def _listed(counts: dict[str, int]) -> str:
    """ "已送达 delivered 68，已延后 deferred 3": each state in Chinese and in the English of the database."""
    parts = [f"{STATE_NAMES.get(what, what)} {what} {count:,}" for what, count in sorted(counts.items())]
    return "，".join(parts) or "无 nothing"


def _print_dispatch(console: Console, summary: DispatchSummary, outbox: Path) -> None:
    console.print(f"发送 dispatch now: {_listed(summary.outcomes)}", highlight=False)
    if summary.simulated_at is not None:
        at = summary.simulated_at.astimezone(ZoneInfo("Asia/Shanghai"))
        console.print(
            f"模拟时钟 dispatch from {at:%Y-%m-%d %H:%M} Asia/Shanghai（时钟依次拨到每个延后的时间）："
            f"{_listed(summary.later_outcomes)}",
            highlight=False,
            soft_wrap=True,
        )
    console.print(f"发送状态 dispatch states: {_listed(summary.states)}", highlight=False)
    console.print(
        f"发件箱 outbox {outbox}: {_listed(summary.outbox_lines)} 行", highlight=False, soft_wrap=True
    )
    for text in summary.example_texts:
        console.print(
            f"  给调解员的短信 sms to mediator: {text}", highlight=False, markup=False, soft_wrap=True
        )
