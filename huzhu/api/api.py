"""The JSON API at /api/v1/: mounts each app's router."""

from ninja import NinjaAPI

api = NinjaAPI(title="Huzhu API", version="1", urls_namespace="api")
