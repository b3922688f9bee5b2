// Asio and Beast compiled once for the whole program (BOOST_*_SEPARATE_COMPILATION):
// every other file includes only their declarations, which keeps rebuilds fast.
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>

// Asio's SSL sources, except its OpenSSL initialisation (ssl/detail/impl/openssl_init.ipp):
// that runs from a global constructor in every process, loading every cipher and the OpenSSL
// config file, which costs a one-shot command like `wappa enqueue` ~1.5 ms at start.
// OpenSSL 3 initialises itself on first use, so nothing is lost by leaving it out.
#include <boost/asio/detail/config.hpp>
#include <boost/asio/ssl/impl/context.ipp>
#include <boost/asio/ssl/impl/error.ipp>
#include <boost/asio/ssl/detail/impl/engine.ipp>
#include <boost/asio/ssl/impl/host_name_verification.ipp>
#include <boost/asio/ssl/impl/rfc2818_verification.ipp>

#include <openssl/opensslv.h>
static_assert(OPENSSL_VERSION_MAJOR >= 3, "OpenSSL before 3.0 needs Asio's explicit initialisation");

namespace boost::asio::ssl::detail {

class openssl_init_base::do_init {};

boost::asio::detail::shared_ptr<openssl_init_base::do_init> openssl_init_base::instance() {
    static boost::asio::detail::shared_ptr<do_init> init(new do_init);
    return init;
}

}  // namespace boost::asio::ssl::detail
