// SPDX-License-Identifier: LGPL-2.1-or-later
#include "coturn.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>

#include "harness.h"

namespace rtcstream::test {

namespace {

bool
tcp_port_open (unsigned port)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_socket_client_set_timeout (client, 1);
  g_autoptr (GSocketConnection) conn =
      g_socket_client_connect_to_host (client, "127.0.0.1", (guint16) port, nullptr, nullptr);
  return conn != nullptr;
}

}  // namespace

Coturn::Coturn (const std::string &auth_secret)
{
  dir_ = g_dir_make_tmp ("rtcstream-turn-XXXXXX", nullptr);
  port_ = free_port ();
  if (!dir_ || port_ == 0)
    return;
  std::string conf = path ("turnserver.conf");
  std::ofstream f (conf);
  f << "listening-ip=127.0.0.1\n"
    << "relay-ip=127.0.0.1\n"
    << "listening-port=" << port_ << "\n"
    << "lt-cred-mech\n";
  if (auth_secret.empty ())
    f << "user=" << kUser << ":" << kPassword << "\n";
  else
    f << "use-auth-secret\nstatic-auth-secret=" << auth_secret << "\n";
  f << "realm=rtcstream.test\n"
    << "no-tls\nno-dtls\nno-cli\nno-rfc5780\n"
    << "allow-loopback-peers\n"
    << "verbose\n"
    << "simple-log\n"
    << "log-file=" << path ("turnserver.log") << "\n"
    << "userdb=" << path ("turndb") << "\n"
    << "pidfile=" << path ("turnserver.pid") << "\n";
  f.close ();
  const char *argv[] = {kTurnServer, "-c", conf.c_str (), nullptr};
  g_autoptr (GError) err = nullptr;
  if (!g_spawn_async (dir_, const_cast<char **> (argv), nullptr,
          (GSpawnFlags) (G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL |
              G_SPAWN_STDERR_TO_DEV_NULL),
          die_with_parent, nullptr, &pid_, &err)) {
    g_printerr ("could not start %s: %s\n", kTurnServer, err->message);
    pid_ = 0;
    return;
  }
  // Ready once its TCP listener accepts, at most 10 s.
  for (int i = 0; i < 100 && alive (); i++) {
    if (tcp_port_open (port_)) {
      ready_ = true;
      break;
    }
    g_usleep (100000);
  }
}

Coturn::~Coturn ()
{
  kill_now ();
  if (dir_) {
    // Its files: config, log, pid file, SQLite database and journal.
    if (GDir *d = g_dir_open (dir_, 0, nullptr)) {
      while (const char *name = g_dir_read_name (d))
        g_unlink (path (name).c_str ());
      g_dir_close (d);
    }
    g_rmdir (dir_);
    g_free (dir_);
  }
}

std::string
Coturn::uri (const std::string &escaped_password) const
{
  return std::string ("turn://") + kUser + ":" + escaped_password + "@127.0.0.1:" +
      std::to_string (port_);
}

std::string
Coturn::display () const
{
  return std::string ("turn://") + kUser + "@127.0.0.1:" + std::to_string (port_);
}

std::string
Coturn::log () const
{
  std::ifstream f (path ("turnserver.log"));
  std::stringstream ss;
  ss << f.rdbuf ();
  return ss.str ();
}

void
Coturn::kill_now ()
{
  if (pid_ <= 0)
    return;
  kill (pid_, SIGTERM);
  int status = 0;
  for (int i = 0; i < 100 && waitpid (pid_, &status, WNOHANG) == 0; i++)
    g_usleep (20000);
  if (waitpid (pid_, &status, WNOHANG) == 0) {
    kill (pid_, SIGKILL);
    waitpid (pid_, &status, 0);
  }
  g_spawn_close_pid (pid_);
  pid_ = 0;
}

bool
Coturn::alive () const
{
  int status = 0;
  return pid_ > 0 && waitpid (pid_, &status, WNOHANG) == 0;
}

// The selected pair's candidate types as "local/remote", from the stats of
// an rtcstreamsrc, or of the first consumer of an rtcstreamsink.
std::string
pair_types (GstElement *element)
{
  GstStructure *s = nullptr;
  g_object_get (element, "stats", &s, nullptr);
  if (!s)
    return "";
  const GstStructure *from = s;
  for (gint i = 0; i < gst_structure_n_fields (s); i++) {
    const GValue *v = gst_structure_get_value (s, gst_structure_nth_field_name (s, i));
    if (GST_VALUE_HOLDS_STRUCTURE (v)) {
      from = gst_value_get_structure (v);
      break;
    }
  }
  const char *l = gst_structure_get_string (from, "local-candidate-type");
  const char *r = gst_structure_get_string (from, "remote-candidate-type");
  std::string out = std::string (l ? l : "") + "/" + (r ? r : "");
  gst_structure_free (s);
  return out;
}

}  // namespace rtcstream::test
