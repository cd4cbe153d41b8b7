"""Board top levels: the host link (UART, framing, demultiplexer, arbiter), clocks, builds."""
