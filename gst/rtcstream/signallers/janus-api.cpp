// SPDX-License-Identifier: LGPL-2.1-or-later
#include "janus-api.h"

#include <cstring>

namespace rtcstream::janus {

bool
is_janus_uri (const char *uri)
{
  return uri && g_str_has_prefix (uri, "janus+");
}

bool
parse_uri (const char *uri, Uri &out, std::string &error)
{
  auto bad = [uri, &error] (const std::string &why) {
    error = std::string ("Invalid Janus URI '") + (uri ? uri : "") + "': " + why +
        ". Expected janus+http://HOST:PORT/janus?room=ROOM&display=NAME";
    return false;
  };
  if (!is_janus_uri (uri))
    return bad ("the scheme must be janus+http or janus+https");
  g_autoptr (GError) err = nullptr;
  g_autoptr (GUri) parsed = g_uri_parse (uri + strlen ("janus+"), G_URI_FLAGS_ENCODED_QUERY,
      &err);
  if (!parsed)
    return bad (err->message);
  std::string scheme = g_uri_get_scheme (parsed);
  if (scheme != "http" && scheme != "https")
    return bad ("the scheme must be janus+http or janus+https");
  if (!g_uri_get_host (parsed) || !*g_uri_get_host (parsed))
    return bad ("it has no host");
  Uri r;
  if (const char *query = g_uri_get_query (parsed)) {
    g_autoptr (GHashTable) params = g_uri_parse_params (query, -1, "&",
        G_URI_PARAMS_NONE, &err);
    if (!params)
      return bad (err->message);
    auto get = [&params] (const char *key) {
      auto *v = static_cast<const char *> (g_hash_table_lookup (params, key));
      return std::string (v ? v : "");
    };
    r.room = get ("room");
    r.display = get ("display");
    r.pin = get ("pin");
    r.token = get ("token");
    r.api_secret = get ("apisecret");
  }
  if (r.room.empty ())
    return bad ("room= is missing");
  if (r.display.empty ())
    return bad ("display= is missing");
  // The REST API's base URL: the same without janus+ and without the query.
  g_autofree gchar *base = g_uri_join (G_URI_FLAGS_ENCODED, scheme.c_str (), nullptr,
      g_uri_get_host (parsed), g_uri_get_port (parsed), g_uri_get_path (parsed), nullptr,
      nullptr);
  r.url = base;
  out = std::move (r);
  return true;
}

nlohmann::json
room_value (const std::string &room)
{
  // Janus rooms are numbers unless the plugin runs with string_ids.
  if (!room.empty () && room.size () < 19 &&
      room.find_first_not_of ("0123456789") == std::string::npos)
    return nlohmann::json (std::stoull (room));
  return nlohmann::json (room);
}

const nlohmann::json *
janus_error (const nlohmann::json &reply)
{
  if (!reply.is_object () || reply.value ("janus", "") != "error")
    return nullptr;
  auto it = reply.find ("error");
  return it != reply.end () && it->is_object () ? &*it : nullptr;
}

const nlohmann::json *
plugin_data (const nlohmann::json &msg)
{
  auto pd = msg.find ("plugindata");
  if (pd == msg.end () || !pd->is_object ())
    return nullptr;
  auto data = pd->find ("data");
  return data != pd->end () && data->is_object () ? &*data : nullptr;
}

GstWebRTCSessionDescription *
make_description (const nlohmann::json &jsep)
{
  std::string type = jsep.value ("type", "");
  std::string sdp = jsep.value ("sdp", "");
  if ((type != "offer" && type != "answer") || sdp.empty ())
    return nullptr;
  GstSDPMessage *msg = nullptr;
  if (gst_sdp_message_new_from_text (sdp.c_str (), &msg) != GST_SDP_OK || !msg)
    return nullptr;
  return gst_webrtc_session_description_new (
      type == "offer" ? GST_WEBRTC_SDP_TYPE_OFFER : GST_WEBRTC_SDP_TYPE_ANSWER, msg);
}

guint64
find_publisher (const nlohmann::json &participants, const std::string &display,
    bool *name_used)
{
  auto it = participants.find ("participants");
  if (it == participants.end () || !it->is_array ())
    return 0;
  for (const nlohmann::json &p : *it) {
    if (!p.is_object () || p.value ("display", "") != display)
      continue;
    if (name_used)
      *name_used = true;
    auto id = p.find ("id");
    if (p.value ("publisher", false) && id != p.end () && id->is_number_unsigned ())
      return id->get<guint64> ();
  }
  return 0;
}

guint64
reply_id (const nlohmann::json &reply)
{
  auto data = reply.find ("data");
  if (data == reply.end () || !data->is_object ())
    return 0;
  auto id = data->find ("id");
  return id != data->end () && id->is_number_unsigned () ? id->get<guint64> () : 0;
}

ErrorMeaning
explain_error (gint64 code)
{
  switch (code) {
    case 426:  // JANUS_VIDEOROOM_ERROR_NO_SUCH_ROOM
      return {RTCSTREAM_SIGNALLER_ERROR_NOT_FOUND,
          ": check room= in the URI, or define the room in janus.plugin.videoroom.jcfg"};
    case 433:  // JANUS_VIDEOROOM_ERROR_UNAUTHORIZED
      return {RTCSTREAM_SIGNALLER_ERROR_REFUSED,
          ": the room needs a pin (set pin= in the URI or the pin property)"};
    case 432:  // JANUS_VIDEOROOM_ERROR_PUBLISHERS_FULL
      return {RTCSTREAM_SIGNALLER_ERROR_REFUSED,
          ": the room has no free publisher slot (raise publishers in the room's config)"};
    case 403:  // JANUS_ERROR_UNAUTHORIZED
    case 405:  // JANUS_ERROR_UNAUTHORIZED_PLUGIN
      return {RTCSTREAM_SIGNALLER_ERROR_REFUSED,
          ": set api-secret or token (apisecret= or token= in the URI)"};
    case 458:  // JANUS_ERROR_SESSION_NOT_FOUND
      return {RTCSTREAM_SIGNALLER_ERROR_DISCONNECTED,
          ": Janus forgot our session (restarted, or timed it out)"};
    default:
      return {RTCSTREAM_SIGNALLER_ERROR_REFUSED, std::string ()};
  }
}

}  // namespace rtcstream::janus
