"""The service desk's JSON API, mounted at ``/api/v1/desk``: the matter catalogue
(``huzhu.desk.api_matters``) and tickets with every step of their workflow and the public
board of civic reports (``huzhu.desk.api_tickets``). Notice boards and suggestions are in
``api_board``, statistics in ``api_stats``; Open311 lives at ``/open311/v2/``."""

from ninja import Router

from huzhu.desk.api_matters import router as matters_router
from huzhu.desk.api_tickets import router as tickets_router

router = Router(tags=["desk"])
router.add_router("", matters_router)
router.add_router("", tickets_router)
