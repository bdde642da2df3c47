"""Service desk pages: the worker's desk, the team's queue, residents' reports and matters,
notice boards and suggestions, statistics, and the public pages of a community."""

from huzhu.desk.urls_board import urlpatterns as board_urls
from huzhu.desk.urls_keys import urlpatterns as key_urls
from huzhu.desk.urls_public import urlpatterns as public_urls
from huzhu.desk.urls_resident import urlpatterns as resident_urls
from huzhu.desk.urls_stats import urlpatterns as stats_urls
from huzhu.desk.urls_tickets import urlpatterns as ticket_urls

app_name = "desk"
urlpatterns = [
    *ticket_urls,
    *resident_urls,
    *public_urls,
    *board_urls,
    *stats_urls,
    *key_urls,
]
