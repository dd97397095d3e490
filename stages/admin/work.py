"""Units of work and their tasks in the admin: states at a glance (and as a coloured graph),
retry and cancel actions, completion of waiting tasks."""

from django.contrib import admin, messages

from journeys.errors import DomainError
from stages.models import UnitOfWork, WorkTask
from stages.services import work as work_services
from stages.services import work_tasks
from stages.svg import Node, dag_svg


class WorkTaskInline(admin.TabularInline):
    model = WorkTask
    fields = ["key", "name", "intent", "agent_id", "status", "retries", "attempts", "error", "finished_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Retries")
    def retries(self, task: WorkTask) -> str:
        return f"{task.retry_count} / {task.max_retries}"


@admin.register(UnitOfWork)
class UnitOfWorkAdmin(admin.ModelAdmin):
    list_display = ["work_id", "client", "stage", "purpose", "status", "round", "created_at", "finished_at"]
    list_filter = ["status", "purpose", "stage"]
    search_fields = ["work_id", "journey__client_id"]
    list_select_related = ["journey"]
    readonly_fields = [
        "work_id",
        "journey",
        "stage",
        "purpose",
        "status",
        "round",
        "created_at",
        "started_at",
        "finished_at",
        "graph",
    ]
    fields = readonly_fields
    inlines = [WorkTaskInline]
    actions = ["retry_failed_tasks", "cancel_units"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Client", ordering="journey__client_id")
    def client(self, unit: UnitOfWork) -> str:
        return unit.journey.client_id

    @admin.display(description="Tasks")
    def graph(self, unit: UnitOfWork):
        nodes = [
            Node(key=t.key, label=t.name or t.key, depends_on=t.depends_on, status=t.status, detail=t.intent)
            for t in unit.tasks.all()
        ]
        return dag_svg(nodes, title=f"Unit of work {unit.work_id}")

    @admin.action(description="Retry the failed tasks", permissions=["change"])
    def retry_failed_tasks(self, request, queryset) -> None:
        self._each(request, queryset, work_services.unit_of_work_retry, "retried")

    @admin.action(description="Cancel", permissions=["change"])
    def cancel_units(self, request, queryset) -> None:
        self._each(request, queryset, work_services.unit_of_work_cancel, "cancelled")

    def _each(self, request, queryset, service, done: str) -> None:
        succeeded = 0
        for unit in queryset:
            try:
                service(unit=unit, actor=request.user.get_username())
                succeeded += 1
            except DomainError as error:
                self.message_user(request, f"{unit.work_id}: {error.message}", messages.ERROR)
        if succeeded:
            self.message_user(request, f"{succeeded} unit(s) of work {done}.", messages.SUCCESS)


@admin.register(WorkTask)
class WorkTaskAdmin(admin.ModelAdmin):
    list_display = [
        "key",
        "name",
        "client",
        "intent",
        "agent_id",
        "status",
        "retry_count",
        "attempts",
        "finished_at",
    ]
    list_filter = ["status", "intent"]
    search_fields = ["key", "name", "task_id", "unit__journey__client_id"]
    list_select_related = ["unit__journey"]
    actions = ["mark_succeeded"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in WorkTask._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return request.method in {"GET", "HEAD"} and super().has_change_permission(request, obj)

    @admin.display(description="Client")
    def client(self, task: WorkTask) -> str:
        return task.unit.journey.client_id

    @admin.action(description="Mark the selected waiting tasks as done", permissions=["complete"])
    def mark_succeeded(self, request, queryset) -> None:
        completed = 0
        for task in queryset:
            try:
                work_tasks.work_task_complete(task=task, actor=request.user.get_username())
                completed += 1
            except DomainError as error:
                self.message_user(request, f"{task.key}: {error.message}", messages.ERROR)
        if completed:
            self.message_user(request, f"{completed} task(s) completed.", messages.SUCCESS)

    def has_complete_permission(self, request) -> bool:
        return request.user.has_perm("stages.change_worktask")
