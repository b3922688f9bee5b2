#pragma once
// GET /ui: the operations dashboard's static files, compiled into the binary. They hold no data:
// the page asks for the admin token and sends it with every API call, so serving them needs none.
#include <optional>
#include <string_view>

#include "wappa/http/message.hpp"

namespace wappa::service {

// The file for `path` (/ui, /ui/, /ui/app.js, /ui/style.css), or nullopt.
std::optional<http::Response> dashboard_file(std::string_view path);

}  // namespace wappa::service
