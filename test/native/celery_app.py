"""A real Celery app with opentelemetry-instrumentation-celery, for the
end-to-end tests in test/native/ (see _harness.ts).

Environment:
  JOBSLO_NATIVE_REDIS_URL   broker and result backend, e.g. redis://127.0.0.1:6379/0
  JOBSLO_NATIVE_QUEUE       queue name (each test uses its own)
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT  where spans go (OTLP/HTTP protobuf)
  OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES  read by the SDK as usual

Tasks (the known mix):
  native.ok      always succeeds
  native.flaky   fails its first attempt (self.retry), succeeds on the retry
  native.doomed  always raises; autoretry_for with max_retries=2: 3 attempts, then FAILURE
"""

import os

from celery import Celery
from celery.signals import worker_process_init
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.celery import CeleryInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

REDIS_URL = os.environ["JOBSLO_NATIVE_REDIS_URL"]
QUEUE = os.environ["JOBSLO_NATIVE_QUEUE"]
RETRY_DELAY_SECONDS = 0.2

_provider = None


def setup_tracing():
    """One tracer provider per process: Resource.create() reads
    OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES."""
    global _provider
    if _provider is not None:
        return _provider
    _provider = TracerProvider(resource=Resource.create())
    _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(_provider)
    CeleryInstrumentor().instrument(tracer_provider=_provider)
    return _provider


@worker_process_init.connect(weak=False)
def _init_worker_tracing(*args, **kwargs):
    # the instrumentation's documented place for prefork children; with the
    # solo pool the signal fires in the worker process itself
    setup_tracing()


app = Celery("native", broker=REDIS_URL, backend=REDIS_URL)
app.conf.update(
    task_default_queue=QUEUE,
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    result_expires=600,
)


@app.task(name="native.ok")
def ok(n):
    return n


@app.task(name="native.flaky", bind=True, max_retries=2, default_retry_delay=RETRY_DELAY_SECONDS)
def flaky(self, n):
    if self.request.retries == 0:
        raise self.retry(exc=RuntimeError(f"flaky {n}: first attempt fails"))
    return n


@app.task(
    name="native.doomed",
    bind=True,
    autoretry_for=(ValueError,),
    max_retries=2,
    default_retry_delay=RETRY_DELAY_SECONDS,
    retry_backoff=False,
    retry_jitter=False,
)
def doomed(self, n):
    raise ValueError(f"doomed {n}: always fails")
