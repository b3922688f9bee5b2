#pragma once
// The "sandbox" Graph transport: answers like the Graph API (fake wamids, optional latency and
// transient errors) and sends nothing anywhere, so that everything runs locally.
#include "wappa/graph/transport.hpp"

namespace wappa::graph {

std::unique_ptr<Transport> make_sandbox(net::any_io_executor executor, const TransportSettings& settings);

}  // namespace wappa::graph
