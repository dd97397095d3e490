from rest_framework.pagination import CursorPagination


class IdCursorPagination(CursorPagination):
    """Newest first, stable under inserts; ``?page_size=`` up to 500."""

    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = 500
