from rest_framework.exceptions import ValidationError
from rest_framework.pagination import Cursor, CursorPagination


class IdCursorPagination(CursorPagination):
    """Newest first, stable under inserts; ``?page_size=`` from 1 to 500.

    A cursor is opaque but travels through clients: one that does not decode to an id position
    (edited, truncated, from another endpoint) and a page size that is not a whole number in range
    answer 400 naming the parameter, never a silent default or a database error.
    """

    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if not 1 <= size <= self.max_page_size:
            raise ValidationError(
                {self.page_size_query_param: [f"A whole number from 1 to {self.max_page_size}."]}
            )
        return size

    def decode_cursor(self, request) -> Cursor | None:
        if request.query_params.get(self.cursor_query_param) is None:
            return None
        try:
            cursor = super().decode_cursor(request)
            if cursor.position is not None:
                int(cursor.position)
        except Exception:  # NotFound from DRF, or a position that is not an id
            raise ValidationError({self.cursor_query_param: ["Invalid cursor."]}) from None
        return cursor

    def get_schema_operation_parameters(self, view) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
        return parameters
