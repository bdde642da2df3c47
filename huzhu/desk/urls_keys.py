"""Application keys for Open311 clients (应用密钥): the administrator's list, issuing a key
(shown once) and revoking one."""

from django.urls import path

from huzhu.desk import views_keys

urlpatterns = [
    path("keys/", views_keys.key_list, name="keys"),
    path("keys/new/", views_keys.key_new, name="key_new"),
    path("keys/<int:key_id>/revoke/", views_keys.key_revoke, name="key_revoke"),
]
