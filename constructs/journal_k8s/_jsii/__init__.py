"""The jsii assembly of the library's Node side (sources in ``assembly/``)."""
