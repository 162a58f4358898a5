// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The libsoup session every signaller talks through: the system's trust store,
// or the certificates of a `tls-ca-file` instead (a private CA, a server's
// self-signed certificate).
#pragma once

#include <libsoup/soup.h>

#include <optional>
#include <string>

namespace rtcstream {

struct SoupSessionOptions {
  std::string tls_ca_file;        // empty: the system's trust store
  std::optional<guint> timeout_s;            // I/O timeout, 0: none; unset: libsoup's (60 s)
  std::optional<guint> max_conns_per_host;   // unset: libsoup's (2)
};

// A new session (transfer full), or null with error set to a sentence that
// names the CA file and why it cannot be used.
SoupSession *make_soup_session (const SoupSessionOptions &options, std::string &error);

}  // namespace rtcstream
