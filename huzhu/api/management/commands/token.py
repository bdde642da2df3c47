"""``huzhu token create|list|revoke``: per-user API tokens.

    huzhu token create USERNAME [--name NAME] [--expires-days N]   prints the token once
    huzhu token list USERNAME
    huzhu token revoke PREFIX

``create`` writes only the token to standard output (so ``TOKEN=$(huzhu token create …)``
works) and the reminder to standard error.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from huzhu.api.selectors import api_token_list
from huzhu.api.services import TOKEN_SCHEME, api_token_create, api_token_revoke, token_status

CLI_ACTOR = "命令行"


def _messages(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "；".join(m for messages in exc.message_dict.values() for m in messages)
    return "；".join(exc.messages)


class Command(BaseCommand):
    help = "管理 API 令牌：create 创建（只显示一次）、list 列出、revoke 吊销"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="{create,list,revoke}")
        create = sub.add_parser("create", help="为用户创建令牌，令牌只显示这一次")
        create.add_argument("username", help="用户名")
        create.add_argument("--name", default="", help="用途说明，例如“区数据看板同步”")
        create.add_argument(
            "--expires-days", type=int, default=None, help="有效天数（默认长期有效）"
        )
        listing = sub.add_parser("list", help="列出用户的令牌（只显示前缀）")
        listing.add_argument("username", help="用户名")
        revoke = sub.add_parser("revoke", help="按前缀吊销令牌")
        revoke.add_argument("prefix", help="令牌前缀，例如 hz_ab12cd34 或 ab12cd34")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        try:
            if action == "create":
                self._create(options)
            elif action == "list":
                self._list(options)
            else:
                self._revoke(options)
        except ValidationError as exc:
            raise CommandError(_messages(exc)) from exc

    def _user(self, username: str) -> Any:
        User = get_user_model()
        try:
            return User.objects.get(username=username)
        except User.DoesNotExist as exc:
            raise CommandError(f"用户 {username} 不存在") from exc

    def _create(self, options: dict[str, Any]) -> None:
        user = self._user(options["username"])
        token, raw = api_token_create(
            actor=CLI_ACTOR,
            user=user,
            name=options["name"],
            expires_days=options["expires_days"],
        )
        self.stdout.write(raw)
        until = (
            f"，有效期至 {timezone.localtime(token.expires_at):%Y-%m-%d %H:%M}"
            if token.expires_at
            else ""
        )
        self.stderr.write(
            f"已为 {user.get_username()} 创建令牌 {TOKEN_SCHEME}_{token.prefix}{until}。"
            "令牌只显示这一次，请立即妥善保存；使用方式：Authorization: Bearer <令牌>"
        )

    def _list(self, options: dict[str, Any]) -> None:
        user = self._user(options["username"])
        tokens = list(api_token_list(user=user))
        if not tokens:
            self.stdout.write(f"{user.get_username()} 没有令牌")
            return
        now = timezone.now()

        def when(value: Any) -> str:
            return f"{timezone.localtime(value):%Y-%m-%d %H:%M}" if value else "-"

        self.stdout.write("前缀\t状态\t用途\t创建时间\t最近使用\t过期时间")
        for token in tokens:
            self.stdout.write(
                "\t".join(
                    [
                        f"{TOKEN_SCHEME}_{token.prefix}",
                        token_status(token, now),
                        token.name or "-",
                        when(token.created_at),
                        when(token.last_used_at),
                        when(token.expires_at),
                    ]
                )
            )

    def _revoke(self, options: dict[str, Any]) -> None:
        token = api_token_revoke(actor=CLI_ACTOR, prefix=options["prefix"])
        self.stdout.write(
            f"已吊销令牌 {TOKEN_SCHEME}_{token.prefix}（{token.user.get_username()}，"
            f"{timezone.localtime(token.revoked_at):%Y-%m-%d %H:%M}）"
        )
