"""Admin screens that show rows and never change them by hand (runs, versions, rollups)."""


class ReadOnlyMixin:
    """No add, change or delete permission, whoever asks: the rows are written by services."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
