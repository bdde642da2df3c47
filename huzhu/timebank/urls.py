"""Time-bank pages: the member's side (balance, statement, family, transfers) and the
worker's counter (redemption, 代办, family verification, org flows, rules)."""

from huzhu.timebank.urls_counter import urlpatterns as counter_urls
from huzhu.timebank.urls_fund import urlpatterns as fund_urls
from huzhu.timebank.urls_member import urlpatterns as member_urls
from huzhu.timebank.urls_statements import urlpatterns as statement_urls

app_name = "timebank"
urlpatterns = [*member_urls, *statement_urls, *counter_urls, *fund_urls]
