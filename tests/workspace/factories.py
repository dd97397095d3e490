import factory

from workspace.models import Decision, Workspace


class DecisionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Decision

    workspace = factory.Iterator(Workspace.objects.all())
    question = "Countertop material"
    chosen = "Quartz"
    alternatives = factory.LazyFunction(
        lambda: [{"option": "Granite", "pros": ["hard"], "cons": ["sealing"]}]
    )
    reasoning = "Durable"
