// SPDX-License-Identifier: LGPL-2.1-or-later
//
// What RtcstreamJanusSignaller knows of Janus' REST API and VideoRoom plugin
// without any I/O: the janus+http:// URI, the shapes of replies and events,
// and what Janus' error codes mean for a user. Pure functions, unit-testable.
#pragma once

#include <gst/webrtc/webrtc.h>
#include <nlohmann/json.hpp>

#include <string>

#include "rtcstream/signaller.h"

namespace rtcstream::janus {

// janus+http://HOST:PORT/PATH?room=ROOM&display=NAME[&pin=..][&token=..][&apisecret=..]
struct Uri {
  std::string url;  // http(s)://HOST:PORT/PATH, the REST API's base
  std::string room;
  std::string display;
  std::string pin;
  std::string token;
  std::string api_secret;
};

bool is_janus_uri (const char *uri);
// On failure returns false and sets error to a sentence.
bool parse_uri (const char *uri, Uri &out, std::string &error);

// The room as Janus wants it: a number unless the plugin uses string_ids.
nlohmann::json room_value (const std::string &room);

// The "error" object of a {"janus":"error"} reply, or null.
const nlohmann::json *janus_error (const nlohmann::json &reply);
// plugindata.data of a reply or event, or null.
const nlohmann::json *plugin_data (const nlohmann::json &msg);
// data.id of a "success" reply (session or handle id), or 0.
guint64 reply_id (const nlohmann::json &reply);
// In a "participants" list: the id of the publisher with this display name,
// or 0. *name_used (optional) is set when anyone has the name.
guint64 find_publisher (const nlohmann::json &participants, const std::string &display,
    bool *name_used);
// A JSEP object as a session description, or null when unusable.
GstWebRTCSessionDescription *make_description (const nlohmann::json &jsep);

// What a Janus or VideoRoom error code means: the signaller error kind and
// a hint for the user (starting with ": ", or empty).
struct ErrorMeaning {
  RtcstreamSignallerError kind;
  std::string hint;
};
ErrorMeaning explain_error (gint64 code);

}  // namespace rtcstream::janus
