"""The worker's counter, under ``/timebank/counter/`` (namespace ``timebank``)."""

from django.urls import path

from huzhu.timebank import counter_views as views

urlpatterns = [
    path("counter/", views.counter_home, name="counter"),
    # the exchange catalogue and redemption
    path("counter/items/", views.items, name="items"),
    path("counter/items/new/", views.item_create, name="item_create"),
    path("counter/items/<int:item_id>/edit/", views.item_edit, name="item_edit"),
    path("counter/redeem/", views.redeem, name="redeem"),
    path("counter/redemptions/", views.redemptions, name="redemptions"),
    path("counter/receipts/<int:redemption_id>/", views.receipt, name="receipt"),
    # 代办
    path("counter/pay/", views.pay_on_behalf, name="pay"),
    # family verification
    path("counter/family/", views.family_queue, name="family_queue"),
    path("counter/family/<int:link_id>/verify/", views.family_verify, name="family_verify"),
    path("counter/family/<int:link_id>/reject/", views.family_reject, name="family_reject"),
    # org flows
    path("counter/flows/", views.flows, name="flows"),
    path("counter/flows/export/", views.flows_export, name="flows_export"),
    # rules
    path("counter/policies/", views.policies, name="policies"),
    path("counter/policies/<int:org_id>/", views.policy_edit, name="policy_edit"),
    # two-person adjustments
    path("counter/adjustments/", views.adjustments, name="adjustments"),
    path(
        "counter/accounts/<int:account_id>/adjust/",
        views.adjustment_request,
        name="adjustment_request",
    ),
    path(
        "counter/adjustments/<int:adjustment_id>/approve/",
        views.adjustment_approve,
        name="adjustment_approve",
    ),
    path(
        "counter/adjustments/<int:adjustment_id>/reject/",
        views.adjustment_reject,
        name="adjustment_reject",
    ),
]
