"""Huzhu (互助): a community mutual-aid platform for Chinese urban communities."""
