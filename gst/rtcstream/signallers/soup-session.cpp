// SPDX-License-Identifier: LGPL-2.1-or-later
#include "rtcstream/signallers/soup-session.h"

#include <utility>

namespace rtcstream {

SoupSession *
make_soup_session (const SoupSessionOptions &options, std::string &error)
{
  g_autoptr (GTlsDatabase) db = nullptr;
  if (!options.tls_ca_file.empty ()) {
    g_autoptr (GError) err = nullptr;
    db = g_tls_file_database_new (options.tls_ca_file.c_str (), &err);
    if (!db) {
      error = "Cannot use tls-ca-file '" + options.tls_ca_file + "': " + err->message;
      return nullptr;
    }
  }
  // Only the options given: the others keep libsoup's defaults.
  const char *names[2];
  GValue values[2] = {G_VALUE_INIT, G_VALUE_INIT};
  guint n = 0;
  for (auto [name, value] : {std::pair{"timeout", options.timeout_s},
           std::pair{"max-conns-per-host", options.max_conns_per_host}}) {
    if (!value)
      continue;
    names[n] = name;
    g_value_init (&values[n], G_TYPE_UINT);
    g_value_set_uint (&values[n], *value);
    n++;
  }
  auto *session = SOUP_SESSION (g_object_new_with_properties (SOUP_TYPE_SESSION, n, names, values));
  for (guint i = 0; i < n; i++)
    g_value_unset (&values[i]);
  if (db)
    soup_session_set_tls_database (session, db);
  return session;
}

}  // namespace rtcstream
