#include "wappa/service/dashboard.hpp"

namespace wappa::ui::assets {
extern const std::string_view index;
extern const std::string_view app;
extern const std::string_view style;
}  // namespace wappa::ui::assets

namespace wappa::service {

std::optional<http::Response> dashboard_file(std::string_view path) {
    std::string_view body, type;
    if (path == "/ui" || path == "/ui/" || path == "/ui/index.html") {
        body = ui::assets::index;
        type = "text/html; charset=utf-8";
    } else if (path == "/ui/app.js") {
        body = ui::assets::app;
        type = "text/javascript; charset=utf-8";
    } else if (path == "/ui/style.css") {
        body = ui::assets::style;
        type = "text/css; charset=utf-8";
    } else {
        return std::nullopt;
    }
    http::Response response{200, std::string(type), std::string(body), {}, nullptr};
    response.headers.emplace_back("Cache-Control", "no-cache");
    response.headers.emplace_back("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'");
    response.headers.emplace_back("X-Content-Type-Options", "nosniff");
    response.headers.emplace_back("Referrer-Policy", "no-referrer");
    return response;
}

}  // namespace wappa::service
