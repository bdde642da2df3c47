from huzhu.desk.urls_public_board import urlpatterns as board_urls
from huzhu.desk.urls_public_pages import urlpatterns as page_urls

urlpatterns = [*board_urls, *page_urls]
