// SPDX-License-Identifier: LGPL-2.1-or-later
//
// rtcstream-signalling: options, the main loop and clean shutdown on
// SIGINT/SIGTERM. stdout carries exactly one line, the listening URL (tests
// read the port from it); logs go to stderr.
#include <glib-unix.h>
#include <gst/gst.h>

#include <clocale>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "auth.h"
#include "server.h"

namespace {

gboolean
on_signal (gpointer loop)
{
  g_main_loop_quit (static_cast<GMainLoop *> (loop));
  return G_SOURCE_CONTINUE;
}

// Checks a count option given on the command line.
bool
positive (const char *option, gint64 value, std::size_t &out, GError **error)
{
  if (value < 1) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "%s must be at least 1 (got %" G_GINT64_FORMAT ")", option, value);
    return false;
  }
  out = static_cast<std::size_t> (value);
  return true;
}

// Checks a duration option given on the command line (1 s to a day).
bool
seconds (const char *option, gint64 value, unsigned &out, GError **error)
{
  if (value < 1 || value > 86400) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "%s must be between 1 and 86400 seconds (got %" G_GINT64_FORMAT ")", option, value);
    return false;
  }
  out = static_cast<unsigned> (value);
  return true;
}

// Whether `host` (an --host value) is a loopback address.
bool
loopback (const std::string &host)
{
  if (host == "localhost")
    return true;
  g_autoptr (GInetAddress) address = g_inet_address_new_from_string (host.c_str ());
  return address && g_inet_address_get_is_loopback (address);
}

// --mint-token: prints a JWT and returns the exit status.
int
mint_token (const char *scopes_text, const std::string &secret, gint64 ttl)
{
  using namespace rtcstream::signalling;
  std::string problem;
  std::optional<std::vector<Scope>> scopes = parse_scopes (scopes_text, &problem);
  if (secret.empty ())
    problem = "--mint-token needs --token-secret-file";
  else if (scopes && scopes->empty ())
    problem = "--mint-token needs at least one scope (publish:NAME, watch:NAME, list)";
  else if (ttl < 1 || ttl > 10LL * 365 * 86400)
    problem = "--ttl must be between 1 second and 10 years (got " + std::to_string (ttl) + ")";
  if (!problem.empty () || !scopes) {
    g_printerr ("rtcstream-signalling: %s\n", problem.c_str ());
    return 2;
  }
  const std::int64_t now = g_get_real_time () / G_USEC_PER_SEC;
  std::printf ("%s\n", mint_jwt (*scopes, secret, now, now + ttl).c_str ());
  return EXIT_SUCCESS;
}

}  // namespace

int
main (int argc, char **argv)
{
  using rtcstream::signalling::Server;
  using rtcstream::signalling::ServerOptions;

  std::setlocale (LC_ALL, "");

  ServerOptions options;
  g_autofree char *host = nullptr;
  g_autofree char *cert = nullptr;
  g_autofree char *key = nullptr;
  g_autofree char *web_root = nullptr;
  g_autofree char *token = nullptr;
  g_autofree char *whip_token = nullptr;
  g_autofree char *whep_token = nullptr;
  g_autofree char *token_file = nullptr;
  g_autofree char *whip_token_file = nullptr;
  g_autofree char *whep_token_file = nullptr;
  g_autofree char *secret_file = nullptr;
  g_autofree char *mint = nullptr;
  gint64 ttl = 3600;
  g_auto (GStrv) origins = nullptr;
  gboolean no_whip = FALSE;
  g_auto (GStrv) ice_urls = nullptr;
  g_autofree char *turn_user = nullptr;
  g_autofree char *turn_password = nullptr;
  g_autofree char *turn_secret = nullptr;
  g_autofree char *transport_policy = nullptr;
  gint64 turn_ttl = options.ice.turn_ttl_s;
  gint64 max_sdp = static_cast<gint64> (options.whip.max_sdp_bytes);
  gint port = options.port;
  gint ping_interval = static_cast<gint> (options.ping_interval_s);
  gint resume_grace = static_cast<gint> (options.resume_grace_s);
  gint64 max_message = static_cast<gint64> (options.limits.max_message_bytes);
  gint64 max_peers = static_cast<gint64> (options.limits.max_peers);
  gint64 max_sessions = static_cast<gint64> (options.limits.max_sessions_per_peer);
  gint64 backlog = options.listener.backlog;
  gint64 max_connections = static_cast<gint64> (options.listener.max_connections);
  gint64 max_per_ip = static_cast<gint64> (options.listener.max_connections_per_ip);
  gint64 header_timeout = options.listener.header_timeout_s;
  gint64 body_timeout = options.listener.body_timeout_s;
  gint64 max_whip = static_cast<gint64> (options.whip.max_sessions);
  gint64 max_whip_per_ip = static_cast<gint64> (options.whip.max_sessions_per_ip);
  gint64 whip_connect = options.whip.connect_timeout_s;

  const GOptionEntry entries[] = {
    { "host", 0, 0, G_OPTION_ARG_STRING, &host,
      "IP address to listen on (default 127.0.0.1; 0.0.0.0 for all)", "ADDRESS" },
    { "port", 0, 0, G_OPTION_ARG_INT, &port,
      "TCP port to listen on (default 8443; 0 picks a free port)", "PORT" },
    { "max-message-size", 0, 0, G_OPTION_ARG_INT64, &max_message,
      "Largest message accepted, in bytes (default 262144)", "BYTES" },
    { "max-peers", 0, 0, G_OPTION_ARG_INT64, &max_peers,
      "Most connections at once (default 1000)", "N" },
    { "max-sessions-per-peer", 0, 0, G_OPTION_ARG_INT64, &max_sessions,
      "Most open sessions of one peer (default 100)", "N" },
    { "listen-backlog", 0, 0, G_OPTION_ARG_INT64, &backlog,
      "Connections the kernel queues before the server accepts them (default 1024; "
      "the kernel caps it at net.core.somaxconn)", "N" },
    { "max-connections", 0, 0, G_OPTION_ARG_INT64, &max_connections,
      "Most open TCP connections (HTTP and websocket) at once (default 4096)", "N" },
    { "max-connections-per-ip", 0, 0, G_OPTION_ARG_INT64, &max_per_ip,
      "Most open TCP connections from one client address (default 128; the "
      "server's own WHIP/WHEP pipelines do not count)", "N" },
    { "header-timeout", 0, 0, G_OPTION_ARG_INT64, &header_timeout,
      "Seconds a connection has to send complete request headers; silent and "
      "slow (slowloris) connections are closed after it (default 10)", "SECONDS" },
    { "body-timeout", 0, 0, G_OPTION_ARG_INT64, &body_timeout,
      "Seconds a request body has to arrive after its headers, and the longest a "
      "response may wait for the client to read it (default 10)", "SECONDS" },
    { "ping-interval", 0, 0, G_OPTION_ARG_INT, &ping_interval,
      "Seconds between websocket pings; a peer silent for 3 intervals is "
      "dropped (default 10; 0 disables)", "SECONDS" },
    { "resume-grace", 0, 0, G_OPTION_ARG_INT, &resume_grace,
      "Seconds the sessions of a producer whose connection was lost (no close, or "
      "silent) wait for it to reconnect and claim them, their viewers streaming on "
      "(default 5; 0 ends them at once)", "SECONDS" },
    { "cert", 0, 0, G_OPTION_ARG_FILENAME, &cert,
      "TLS certificate (PEM); with --key, serve wss:// and https://", "FILE" },
    { "key", 0, 0, G_OPTION_ARG_FILENAME, &key, "TLS private key (PEM)", "FILE" },
    { "web-root", 0, 0, G_OPTION_ARG_FILENAME, &web_root,
      "Serve the files of DIR over HTTP instead of the built-in web client", "DIR" },
    { "no-whip", 0, 0, G_OPTION_ARG_NONE, &no_whip,
      "Turn off the WHIP (/whip/NAME, publish) and WHEP (/whep/NAME, watch) endpoints", nullptr },
    { "token", 0, 0, G_OPTION_ARG_STRING, &token,
      "A token that allows everything: publishing, watching and listing need it, "
      "on the websocket and on WHIP/WHEP (\"Authorization: Bearer TOKEN\")", "TOKEN" },
    { "whip-token", 0, 0, G_OPTION_ARG_STRING, &whip_token,
      "The token for publishing (websocket producers and WHIP; overrides --token)", "TOKEN" },
    { "whep-token", 0, 0, G_OPTION_ARG_STRING, &whep_token,
      "The token for watching (websocket consumers and WHEP; overrides --token)", "TOKEN" },
    { "token-file", 0, 0, G_OPTION_ARG_FILENAME, &token_file,
      "--token, read from FILE (its first line), so that it does not show in the "
      "process list", "FILE" },
    { "whip-token-file", 0, 0, G_OPTION_ARG_FILENAME, &whip_token_file,
      "--whip-token, read from FILE", "FILE" },
    { "whep-token-file", 0, 0, G_OPTION_ARG_FILENAME, &whep_token_file,
      "--whep-token, read from FILE", "FILE" },
    { "token-secret-file", 0, 0, G_OPTION_ARG_FILENAME, &secret_file,
      "Take signed, expiring tokens (JWT HS256) signed with the secret in FILE (at least "
      "32 bytes), whose scopes say what each may do; publishing, watching and listing "
      "need a token", "FILE" },
    { "mint-token", 0, 0, G_OPTION_ARG_STRING, &mint,
      "Print a token signed with --token-secret-file allowing SCOPES (space-separated: "
      "publish:NAME, watch:NAME, list; NAME may use *), valid for --ttl, and exit",
      "SCOPES" },
    { "ttl", 0, 0, G_OPTION_ARG_INT64, &ttl,
      "Seconds a --mint-token token stays valid (default 3600)", "SECONDS" },
    { "allowed-origin", 0, 0, G_OPTION_ARG_STRING_ARRAY, &origins,
      "A web origin (https://app.example.net) whose pages may use the websocket and "
      "WHIP/WHEP from a browser; repeat for more, \"*\" for any (default: pages of this "
      "server and of loopback addresses)", "ORIGIN" },
    { "max-sdp-size", 0, 0, G_OPTION_ARG_INT64, &max_sdp,
      "Largest WHIP/WHEP request body (SDP offer or ICE fragment) accepted, in bytes "
      "(default 65536); larger ones get 413", "BYTES" },
    { "max-whip-sessions", 0, 0, G_OPTION_ARG_INT64, &max_whip,
      "Most WHIP and WHEP sessions at once; more get 503 (default 100)", "N" },
    { "max-whip-sessions-per-ip", 0, 0, G_OPTION_ARG_INT64, &max_whip_per_ip,
      "Most WHIP and WHEP sessions of one client address; more get 503 (default 10)", "N" },
    { "whip-connect-timeout", 0, 0, G_OPTION_ARG_INT64, &whip_connect,
      "Seconds a WHIP/WHEP client has to connect after its answer; a session that "
      "does not is ended and its name freed (default 30)", "SECONDS" },
    { "ice-server", 0, 0, G_OPTION_ARG_STRING_ARRAY, &ice_urls,
      "A STUN or TURN server handed to every peer (in the websocket welcome and in "
      "WHIP/WHEP Link headers), e.g. stun:stun.example.net:3478 or "
      "turn:turn.example.net:3478?transport=udp; repeat for more", "URL" },
    { "turn-secret", 0, 0, G_OPTION_ARG_STRING, &turn_secret,
      "Secret shared with the TURN server (coturn: use-auth-secret, static-auth-secret): "
      "every peer gets its own credentials, valid for --turn-ttl", "SECRET" },
    { "turn-ttl", 0, 0, G_OPTION_ARG_INT64, &turn_ttl,
      "Seconds the per-peer TURN credentials stay valid (default 86400)", "SECONDS" },
    { "turn-user", 0, 0, G_OPTION_ARG_STRING, &turn_user,
      "One fixed TURN user for every peer (with --turn-password), instead of --turn-secret",
      "USER" },
    { "turn-password", 0, 0, G_OPTION_ARG_STRING, &turn_password,
      "The password of --turn-user", "PASSWORD" },
    { "ice-transport-policy", 0, 0, G_OPTION_ARG_STRING, &transport_policy,
      "all (default), or relay: the server's side of WHIP/WHEP sessions offers only "
      "addresses of the TURN servers of --ice-server, so clients never see or reach the "
      "server's own addresses", "all|relay" },
    { nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr },
  };

  g_autoptr (GOptionContext) context = g_option_context_new (nullptr);
  g_option_context_set_summary (context, "The rtcstream WebRTC signalling server: "
      "websocket signalling on /ws (and /) between producers, consumers and listeners, "
      "the web client on http(s)://HOST:PORT/, and WHIP/WHEP endpoints: POST an SDP offer "
      "to /whip/NAME to publish the stream NAME, or to /whep/NAME to watch it.");
  g_option_context_add_main_entries (context, entries, nullptr);
  g_option_context_add_group (context, gst_init_get_option_group ());
  g_autoptr (GError) error = nullptr;
  bool ok = g_option_context_parse (context, &argc, &argv, &error);
  if (ok && (port < 0 || port > 65535)) {
    g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--port must be between 0 and 65535 (got %d)", port);
    ok = false;
  }
  if (ok && resume_grace < 0) {
    g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--resume-grace must be 0 or more (got %d)", resume_grace);
    ok = false;
  }
  if (ok && ping_interval < 0) {
    g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--ping-interval must be 0 or more (got %d)", ping_interval);
    ok = false;
  }
  ok = ok && positive ("--max-sdp-size", max_sdp, options.whip.max_sdp_bytes, &error)
      && positive ("--max-message-size", max_message, options.limits.max_message_bytes, &error)
      && positive ("--max-peers", max_peers, options.limits.max_peers, &error)
      && positive ("--max-sessions-per-peer", max_sessions,
          options.limits.max_sessions_per_peer, &error)
      && positive ("--max-connections", max_connections, options.listener.max_connections,
          &error)
      && positive ("--max-connections-per-ip", max_per_ip,
          options.listener.max_connections_per_ip, &error)
      && positive ("--max-whip-sessions", max_whip, options.whip.max_sessions, &error)
      && positive ("--max-whip-sessions-per-ip", max_whip_per_ip,
          options.whip.max_sessions_per_ip, &error)
      && seconds ("--header-timeout", header_timeout, options.listener.header_timeout_s,
          &error)
      && seconds ("--body-timeout", body_timeout, options.listener.body_timeout_s, &error)
      && seconds ("--whip-connect-timeout", whip_connect, options.whip.connect_timeout_s,
          &error);
  if (ok && (backlog < 1 || backlog > 65535)) {
    g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--listen-backlog must be between 1 and 65535 (got %" G_GINT64_FORMAT ")", backlog);
    ok = false;
  }
  options.listener.backlog = static_cast<int> (backlog);
  if (ok && web_root && !g_file_test (web_root, G_FILE_TEST_IS_DIR)) {
    g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--web-root \"%s\" is not a directory", web_root);
    ok = false;
  }
  if (ok) {
    for (char **u = ice_urls; u && *u; u++)
      options.ice.urls.emplace_back (*u);
    options.ice.turn_user = turn_user ? turn_user : "";
    options.ice.turn_password = turn_password ? turn_password : "";
    options.ice.turn_secret = turn_secret ? turn_secret : "";
    if (transport_policy && g_strcmp0 (transport_policy, "all") != 0 &&
        g_strcmp0 (transport_policy, "relay") != 0) {
      g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
          "--ice-transport-policy must be all or relay (got \"%s\")", transport_policy);
      ok = false;
    }
    options.ice.relay_only = g_strcmp0 (transport_policy, "relay") == 0;
    options.ice.turn_ttl_s =
        turn_ttl > 0 && turn_ttl <= G_MAXUINT ? static_cast<unsigned> (turn_ttl) : 0;
    std::string problem = rtcstream::signalling::check_ice_server_options (options.ice);
    if (ok && !problem.empty ()) {
      g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "%s", problem.c_str ());
      ok = false;
    }
  }
  if (ok && argc > 1) {
    g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
        "unexpected argument \"%s\"", argv[1]);
    ok = false;
  }
  std::string jwt_secret;
  if (ok && secret_file) {
    std::optional<std::string> secret = rtcstream::signalling::read_secret_file (secret_file,
        &error);
    ok = secret.has_value ();
    if (ok)
      jwt_secret = std::move (*secret);
    else
      g_prefix_error (&error, "--token-secret-file: ");
  }
  // --token-file and the like: the token from a file instead of the command line.
  struct TokenFile {
    const char *option;
    const char *path;
    char **value;
  } token_files[] = {{"--token-file", token_file, &token},
      {"--whip-token-file", whip_token_file, &whip_token},
      {"--whep-token-file", whep_token_file, &whep_token}};
  for (TokenFile &f : token_files) {
    if (!ok || !f.path)
      continue;
    if (*f.value) {
      g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
          "give %s or the token itself, not both", f.option);
      ok = false;
      break;
    }
    std::optional<std::string> t = rtcstream::signalling::read_secret_file (f.path, &error, 1);
    if (t && t->find_first_of ("\r\n") != std::string::npos) {
      g_set_error (&error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
          "\"%s\" holds more than one line: put the token alone in it", f.path);
      t.reset ();
    }
    if (!t) {
      g_prefix_error (&error, "%s: ", f.option);
      ok = false;
      break;
    }
    *f.value = g_strdup (t->c_str ());
  }
  if (ok && mint)
    return mint_token (mint, jwt_secret, ttl);
  if (!ok) {
    g_printerr ("rtcstream-signalling: %s\nRun \"rtcstream-signalling --help\" to see the "
        "options.\n", error->message);
    return 2;
  }

  if (host)
    options.host = host;
  if (cert)
    options.cert_file = cert;
  if (key)
    options.key_file = key;
  if (web_root)
    options.web_root = web_root;
  options.whip.enabled = !no_whip;
  options.auth.token = token ? token : "";
  options.auth.whip_token = whip_token ? whip_token : "";
  options.auth.whep_token = whep_token ? whep_token : "";
  options.auth.jwt_secret = jwt_secret;
  for (char **o = origins; o && *o; o++)
    options.origins.allowed.emplace_back (*o);
  options.port = port;
  options.ping_interval_s = static_cast<unsigned> (ping_interval);
  options.resume_grace_s = static_cast<unsigned> (resume_grace);

  // Every connection, and every WHIP/WHEP session, takes descriptors: use
  // all the system allows rather than the historical soft limit of 1024.
  rtcstream::signalling::raise_file_limit ();

  g_autoptr (GMainLoop) loop = g_main_loop_new (nullptr, FALSE);
  guint sigint = g_unix_signal_add (SIGINT, on_signal, loop);
  guint sigterm = g_unix_signal_add (SIGTERM, on_signal, loop);

  int status = EXIT_SUCCESS;
  {
    Server server (options);
    std::string url;
    if (server.start (url, &error)) {
      std::printf ("rtcstream-signalling listening on %s\n", url.c_str ());
      std::fflush (stdout);
      g_printerr ("rtcstream-signalling: %s\n", server.auth_summary ().c_str ());
      if (!server.auth_enabled () && !loopback (options.host))
        g_printerr ("rtcstream-signalling: WARNING: listening on %s, beyond this machine, "
            "without any token: anyone who reaches it may publish and watch. Give --token "
            "or --token-secret-file (docs/auth.md).\n", options.host.c_str ());
      g_main_loop_run (loop);
      g_printerr ("rtcstream-signalling: shutting down\n");
      server.stop ();
    } else {
      g_printerr ("rtcstream-signalling: cannot start: %s\n", error->message);
      status = EXIT_FAILURE;
    }
  }
  g_source_remove (sigint);
  g_source_remove (sigterm);
  return status;
}
