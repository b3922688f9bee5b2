// Asio and Beast compiled once for the whole program (BOOST_*_SEPARATE_COMPILATION):
// every other file includes only their declarations, which keeps rebuilds fast.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
