#pragma once
// libpq, loaded on first use (dlopen "libpq.so.5") instead of linked: a process that never
// talks to PostgreSQL (a one-shot `wappa enqueue`) does not pay for loading libpq and the
// twenty libraries it depends on. Private to this module.
#include <libpq-fe.h>

#include <string>

namespace wappa::pg::libpq {

#define WAPPA_LIBPQ_FUNCTIONS(X)                                                                                   \
    X(PQconnectStart) X(PQconnectPoll) X(PQstatus) X(PQerrorMessage) X(PQsetnonblocking) X(PQsocket) X(PQfinish) \
    X(PQenterPipelineMode) X(PQexitPipelineMode) X(PQpipelineSync) X(PQsendPrepare) X(PQsendQueryPrepared)      \
    X(PQsendQueryParams) X(PQsendQuery) X(PQflush) X(PQisBusy) X(PQconsumeInput) X(PQgetResult)                 \
    X(PQresultStatus) X(PQntuples) X(PQnfields) X(PQfname) X(PQgetisnull) X(PQgetvalue) X(PQgetlength)           \
    X(PQcmdTuples) X(PQresultErrorField) X(PQresultErrorMessage) X(PQclear) X(PQsetNoticeProcessor)

struct Api {
#define WAPPA_LIBPQ_MEMBER(name) decltype(&::name) name = nullptr;
    WAPPA_LIBPQ_FUNCTIONS(WAPPA_LIBPQ_MEMBER)
#undef WAPPA_LIBPQ_MEMBER
};

// Loaded once; nullptr with `error` saying why when libpq is missing.
const Api* load(std::string& error);

}  // namespace wappa::pg::libpq
