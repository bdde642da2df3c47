"""``huzhu seed-demo``: a believable demo city with one login per role."""

from __future__ import annotations

import argparse
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation

from huzhu.demo.seed import (
    BASE_RESIDENTS,
    DEFAULT_BATCH_SIZE,
    DEFAULT_PASSWORD,
    DEFAULT_SEED,
    DemoError,
    SeedResult,
    logins_table,
    seed_demo,
)


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"应为正整数：{value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"应为不小于1的整数：{value}")
    return number


class Command(BaseCommand):
    help = (
        "生成演示城市（济南市：3个区、8个街道、20个社区及网格、志愿者协会体系、"
        "数千名居民）和每个角色的演示账号。"
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--password",
            default=DEFAULT_PASSWORD,
            help=f"所有演示账号的密码（默认 {DEFAULT_PASSWORD}）",
        )
        parser.add_argument(
            "--scale",
            type=positive_int,
            default=1,
            help="居民人数的倍数，用于性能测试（居民数 = 基数 × N）",
        )
        parser.add_argument(
            "--residents",
            type=positive_int,
            default=None,
            help=f"居民人数基数（默认 {BASE_RESIDENTS}）",
        )
        parser.add_argument(
            "--seed", type=int, default=DEFAULT_SEED, help="随机种子：相同种子生成相同的城市"
        )
        parser.add_argument(
            "--batch-size",
            type=positive_int,
            default=DEFAULT_BATCH_SIZE,
            help="每批写入的居民数",
        )
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument(
            "--if-empty",
            action="store_true",
            help="已有城市时什么也不做，只列出演示账号",
        )
        mode.add_argument(
            "--reset",
            action="store_true",
            help="先删除已有的演示城市、其全部数据和演示账号，再重新生成",
        )
        parser.add_argument("--no-progress", action="store_true", help="不显示进度条")

    def handle(self, *args: Any, **options: Any) -> None:
        verbosity = options["verbosity"]
        try:
            with translation.override(settings.LANGUAGE_CODE):  # validator messages in Chinese
                result = self._seed(options, verbosity)
        except DemoError as exc:
            raise CommandError(str(exc)) from exc
        except ValidationError as exc:
            raise CommandError("密码不符合要求：" + "；".join(exc.messages)) from exc
        if result.created:
            self.stdout.write(
                self.style.SUCCESS(
                    f"演示城市已生成：居民 {result.residents} 人，用时 {result.seconds:.1f} 秒"
                )
            )
        else:
            self.stdout.write("数据库中已有城市，未重新生成（--if-empty）。")
        self.stdout.write("")
        self.stdout.write(logins_table(result.accounts, result.password))

    def _seed(self, options: dict[str, Any], verbosity: int) -> SeedResult:
        return seed_demo(
            password=options["password"],
            scale=options["scale"],
            residents=options["residents"],
            seed=options["seed"],
            progress=verbosity > 0 and not options["no_progress"],
            stdout=self.stdout if verbosity > 0 else None,
            reset=options["reset"],
            if_empty=options["if_empty"],
            batch_size=options["batch_size"],
        )
