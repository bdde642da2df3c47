"""Statement downloads (mounted under /timebank/): the member's own, and any account in the
user's time-bank scope."""

from django.urls import URLPattern, path

from huzhu.timebank import statement_views as views

urlpatterns: list[URLPattern] = [
    path("statement.xlsx", views.statement_xlsx, name="statement_xlsx"),
    path("statement.pdf", views.statement_pdf, name="statement_pdf"),
    path(
        "accounts/<int:account_id>/statement.xlsx",
        views.account_statement_xlsx,
        name="account_statement_xlsx",
    ),
    path(
        "accounts/<int:account_id>/statement.pdf",
        views.account_statement_pdf,
        name="account_statement_pdf",
    ),
]
