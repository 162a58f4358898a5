// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The Janus signaller's pure parts: its URI, the shapes of Janus' replies,
// and the sentences its error codes lead to.
#include <gtest/gtest.h>

#include "rtcstream/signallers/janus-api.h"

namespace janus = rtcstream::janus;
using json = nlohmann::json;

TEST (JanusUri, FullUri)
{
  janus::Uri u;
  std::string err;
  ASSERT_TRUE (janus::parse_uri (
      "janus+http://127.0.0.1:8088/janus?room=1234&display=cam%201&pin=42&token=t&apisecret=s",
      u, err)) << err;
  EXPECT_EQ (u.url, "http://127.0.0.1:8088/janus");
  EXPECT_EQ (u.room, "1234");
  EXPECT_EQ (u.display, "cam 1");
  EXPECT_EQ (u.pin, "42");
  EXPECT_EQ (u.token, "t");
  EXPECT_EQ (u.api_secret, "s");
}

TEST (JanusUri, HttpsAndIpv6)
{
  janus::Uri u;
  std::string err;
  ASSERT_TRUE (janus::parse_uri ("janus+https://[::1]:8089/janus?room=r&display=d", u, err)) << err;
  EXPECT_EQ (u.url, "https://[::1]:8089/janus");
}

TEST (JanusUri, BadUrisSaySomethingUseful)
{
  janus::Uri u;
  std::string err;
  EXPECT_FALSE (janus::parse_uri ("janus+http://h:8088/janus?display=cam", u, err));
  EXPECT_NE (err.find ("room= is missing"), std::string::npos) << err;
  EXPECT_FALSE (janus::parse_uri ("janus+http://h:8088/janus?room=1", u, err));
  EXPECT_NE (err.find ("display= is missing"), std::string::npos) << err;
  EXPECT_FALSE (janus::parse_uri ("janus+ftp://h/janus?room=1&display=a", u, err));
  EXPECT_NE (err.find ("janus+http"), std::string::npos) << err;
  EXPECT_FALSE (janus::parse_uri ("rtcstream://h:8443/cam", u, err));
  EXPECT_FALSE (janus::parse_uri (nullptr, u, err));
  EXPECT_FALSE (janus::is_janus_uri ("rtcstream://h/cam"));
  EXPECT_TRUE (janus::is_janus_uri ("janus+http://h/janus"));
}

TEST (JanusApi, RoomIsANumberUnlessItCannotBe)
{
  EXPECT_EQ (janus::room_value ("1234"), json (1234u));
  EXPECT_EQ (janus::room_value ("lobby"), json ("lobby"));
  EXPECT_EQ (janus::room_value ("99999999999999999999999"), json ("99999999999999999999999"));
}

TEST (JanusApi, RepliesAndEvents)
{
  json ok = json::parse (R"({"janus":"success","data":{"id":8387169065683985}})");
  EXPECT_EQ (janus::reply_id (ok), 8387169065683985u);
  EXPECT_EQ (janus::janus_error (ok), nullptr);
  EXPECT_EQ (janus::reply_id (json::parse (R"({"janus":"success"})")), 0u);
  EXPECT_EQ (janus::reply_id (json::array ()), 0u);

  json err = json::parse (R"({"janus":"error","error":{"code":458,"reason":"No such session"}})");
  ASSERT_NE (janus::janus_error (err), nullptr);
  EXPECT_EQ (janus::janus_error (err)->value ("code", 0), 458);
  EXPECT_EQ (janus::janus_error (json::array ({err})), nullptr);  // a poll batch is no error

  json ev = json::parse (R"j({"janus":"event","plugindata":{"plugin":"janus.plugin.videoroom",
      "data":{"videoroom":"event","error_code":426,"error":"No such room (999)"}}})j");
  ASSERT_NE (janus::plugin_data (ev), nullptr);
  EXPECT_EQ (janus::plugin_data (ev)->value ("error_code", 0), 426);
  EXPECT_EQ (janus::plugin_data (json::parse (R"({"plugindata":3})")), nullptr);
}

TEST (JanusApi, FindsThePublisherByDisplayName)
{
  json list = json::parse (R"({"videoroom":"participants","participants":[
      {"id":1,"display":"cam","publisher":false},
      {"id":2,"display":"other","publisher":true},
      {"id":3,"display":"cam","publisher":true}]})");
  bool used = false;
  EXPECT_EQ (janus::find_publisher (list, "cam", &used), 3u);
  EXPECT_TRUE (used);
  used = false;
  EXPECT_EQ (janus::find_publisher (list, "nobody", &used), 0u);
  EXPECT_FALSE (used);
  EXPECT_EQ (janus::find_publisher (json::object (), "cam", nullptr), 0u);
  // Joined but not publishing: the name is taken, there is nothing to watch.
  json joined = json::parse (R"({"participants":[{"id":1,"display":"cam","publisher":false}]})");
  EXPECT_EQ (janus::find_publisher (joined, "cam", &used), 0u);
  EXPECT_TRUE (used);
}

TEST (JanusApi, JsepBecomesADescription)
{
  json offer = {{"type", "offer"}, {"sdp", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"}};
  GstWebRTCSessionDescription *d = janus::make_description (offer);
  ASSERT_NE (d, nullptr);
  EXPECT_EQ (d->type, GST_WEBRTC_SDP_TYPE_OFFER);
  gst_webrtc_session_description_free (d);
  EXPECT_EQ (janus::make_description (json {{"type", "pranswer"}, {"sdp", "v=0"}}), nullptr);
  EXPECT_EQ (janus::make_description (json {{"type", "answer"}}), nullptr);
}

TEST (JanusApi, ErrorCodesBecomeHints)
{
  EXPECT_EQ (janus::explain_error (426).kind, RTCSTREAM_SIGNALLER_ERROR_NOT_FOUND);
  EXPECT_NE (janus::explain_error (426).hint.find ("room="), std::string::npos);
  EXPECT_NE (janus::explain_error (433).hint.find ("pin"), std::string::npos);
  EXPECT_NE (janus::explain_error (403).hint.find ("api-secret"), std::string::npos);
  EXPECT_EQ (janus::explain_error (458).kind, RTCSTREAM_SIGNALLER_ERROR_DISCONNECTED);
  EXPECT_EQ (janus::explain_error (12345).kind, RTCSTREAM_SIGNALLER_ERROR_REFUSED);
  EXPECT_TRUE (janus::explain_error (12345).hint.empty ());
}
