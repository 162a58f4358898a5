// SPDX-License-Identifier: LGPL-2.1-or-later
#include "rtcstream/ice-agent.h"

#include <gio/gio.h>
#include <nice/agent.h>

#include <vector>

#include "rtcstream/ref.h"
#include "rtcstream/turn.h"

namespace rtcstream {

namespace {

// libnice numbers an agent's streams from 1 and never reuses a number; a
// webrtcbin has one stream per transport (one with max-bundle), so a short
// probe finds them all.
constexpr guint kMaxStreamId = 64;

bool
stream_exists (NiceAgent *agent, guint stream_id)
{
  gchar *ufrag = nullptr, *pwd = nullptr;
  bool found = nice_agent_get_local_credentials (agent, stream_id, &ufrag, &pwd);
  g_free (ufrag);
  g_free (pwd);
  return found;
}

// The address libnice wants (a literal), resolving a name if need be.
std::string
server_address (const std::string &host, std::string &error)
{
  if (g_hostname_is_ip_address (host.c_str ()))
    return host;
  g_autoptr (GError) err = nullptr;
  GList *addrs = g_resolver_lookup_by_name (g_resolver_get_default (), host.c_str (),
      nullptr, &err);
  if (!addrs) {
    error = "does not resolve (" + std::string (err ? err->message : "no address") + ")";
    return {};
  }
  g_autofree gchar *ip = g_inet_address_to_string (G_INET_ADDRESS (addrs->data));
  g_resolver_free_addresses (addrs);
  return ip;
}

// webrtcbin's libnice agent, or null.
Ref<GObject>
nice_agent_of (GstElement *webrtcbin)
{
  GstObject *ice_raw = nullptr;
  g_object_get (webrtcbin, "ice-agent", &ice_raw, nullptr);
  auto ice = Ref<GstObject>::adopt (ice_raw);
  GObject *agent_raw = nullptr;
  if (ice && g_object_class_find_property (G_OBJECT_GET_CLASS (ice.get ()), "agent"))
    g_object_get (ice.get (), "agent", &agent_raw, nullptr);
  auto agent = Ref<GObject>::adopt (agent_raw);
  if (!agent || !NICE_IS_AGENT (agent.get ()))
    return {};
  return agent;
}

}  // namespace

void
disable_upnp (GstElement *webrtcbin)
{
  Ref<GObject> agent = nice_agent_of (webrtcbin);
  // The property exists only when libnice was built with gupnp-igd.
  if (agent && g_object_class_find_property (G_OBJECT_GET_CLASS (agent.get ()), "upnp"))
    g_object_set (agent.get (), "upnp", FALSE, nullptr);
}

void
set_ice_tcp (GstElement *webrtcbin, bool on)
{
  GstObject *ice_raw = nullptr;
  g_object_get (webrtcbin, "ice-agent", &ice_raw, nullptr);
  auto ice = Ref<GstObject>::adopt (ice_raw);
  if (ice && g_object_class_find_property (G_OBJECT_GET_CLASS (ice.get ()), "ice-tcp"))
    g_object_set (ice.get (), "ice-tcp", on ? TRUE : FALSE, nullptr);
}

void
pace_ice_checks (GstElement *webrtcbin)
{
  if (Ref<GObject> agent = nice_agent_of (webrtcbin))
    g_object_set (agent.get (), "stun-pacing-timer", kIcePacingMs, nullptr);
}

bool
add_turn_server_to_streams (GstElement *webrtcbin, const std::string &uri, std::string &error)
{
  TurnServer server;
  if (!parse_turn_uri (uri, server, error))
    return false;
  const std::string name = turn_display_name (server);

  Ref<GObject> agent_ref = nice_agent_of (webrtcbin);
  if (!agent_ref) {
    gboolean ok = FALSE;
    g_signal_emit_by_name (webrtcbin, "add-turn-server", uri.c_str (), &ok);
    if (!ok)
      error = "webrtcbin refused TURN server " + name;
    return ok;
  }
  NiceAgent *agent = NICE_AGENT (agent_ref.get ());

  std::string why;
  std::string ip = server_address (server.host, why);
  if (ip.empty ()) {
    error = "TURN server " + name + " " + why;
    return false;
  }
  // transport=udp, =tcp or none (both, as webrtcbin does); turns:// is TLS.
  std::vector<NiceRelayType> types;
  if (server.tls)
    types.push_back (NICE_RELAY_TYPE_TURN_TLS);
  else if (server.transport == "udp")
    types.push_back (NICE_RELAY_TYPE_TURN_UDP);
  else if (server.transport == "tcp")
    types.push_back (NICE_RELAY_TYPE_TURN_TCP);
  else
    types = {NICE_RELAY_TYPE_TURN_UDP, NICE_RELAY_TYPE_TURN_TCP};

  guint streams = 0;
  for (guint id = 1; id <= kMaxStreamId; id++) {
    if (!stream_exists (agent, id))
      continue;
    bool all = true;
    for (NiceRelayType type : types) {
      // Component 1 only: webrtcbin always multiplexes RTCP (rtcp-mux).
      all &= nice_agent_set_relay_info (agent, id, 1, ip.c_str (), server.port,
          server.user.c_str (), server.password.c_str (), type) != FALSE;
    }
    if (all)
      streams++;
  }
  if (streams == 0) {
    error = "no ICE stream took TURN server " + name;
    return false;
  }
  return true;
}

}  // namespace rtcstream
