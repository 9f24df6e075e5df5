{{/* Names, labels, and the checks every render runs. */}}

{{- define "axon.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* RELEASE-axon, or RELEASE when it already says axon; 63 is the DNS label limit. */}}
{{- define "axon.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Valkey's names leave room for the "-headless" suffix and StatefulSet pod ordinals. */}}
{{- define "axon.valkey.fullname" -}}
{{- printf "%s-valkey" (include "axon.fullname" . | trunc 45 | trimSuffix "-") -}}
{{- end -}}

{{- define "axon.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "axon.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* The component label keeps the gateway's and Valkey's selectors apart. */}}
{{- define "axon.selectorLabels" -}}
app.kubernetes.io/name: {{ include "axon.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: gateway
{{- end -}}

{{- define "axon.valkey.selectorLabels" -}}
app.kubernetes.io/name: {{ include "axon.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: valkey
{{- end -}}

{{- define "axon.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "axon.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "axon.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/*
A Kubernetes memory quantity in bytes, as a string: integers with no suffix or
with Ki Mi Gi Ti k M G T (what memory limits use). Numbers from values files
arrive as float64, so they are converted before printing (a float prints as
5.36870912e+08). Call with (dict "what" "valkey.maxmemory" "value" $v).
*/}}
{{- define "axon.bytes" -}}
{{- $v := .value -}}
{{- if or (kindIs "float64" $v) (kindIs "int64" $v) (kindIs "int" $v) -}}
{{- $v = int64 $v | toString -}}
{{- end -}}
{{- $v = toString $v -}}
{{- if not (regexMatch "^[0-9]+(Ki|Mi|Gi|Ti|k|M|G|T)?$" $v) -}}
{{- fail (printf "%s: %q is not a quantity this chart reads (an integer, optionally with Ki, Mi, Gi, Ti, k, M, G or T)" .what $v) -}}
{{- end -}}
{{- $n := regexReplaceAll "^([0-9]+).*$" $v "${1}" | int64 -}}
{{- $unit := regexReplaceAll "^[0-9]+" $v "" -}}
{{- $mult := get (dict "" 1 "k" 1000 "M" 1000000 "G" 1000000000 "T" 1000000000000 "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776) $unit -}}
{{- mul $n $mult -}}
{{- end -}}

{{/* Valkey's memory limit and maxmemory, in bytes (validated in axon.validate). */}}
{{- define "axon.valkey.limitBytes" -}}
{{- $limit := required "valkey.resources.limits.memory is required: maxmemory is derived from it and must stay below it" (dig "limits" "memory" "" .Values.valkey.resources) -}}
{{- include "axon.bytes" (dict "what" "valkey.resources.limits.memory" "value" $limit) -}}
{{- end -}}

{{- define "axon.valkey.maxmemoryBytes" -}}
{{- $limit := include "axon.valkey.limitBytes" . | int64 -}}
{{- if .Values.valkey.maxmemory -}}
{{- include "axon.bytes" (dict "what" "valkey.maxmemory" "value" .Values.valkey.maxmemory) -}}
{{- else -}}
{{- div (mul $limit (int64 .Values.valkey.maxmemoryPercent)) 100 -}}
{{- end -}}
{{- end -}}

{{/* The most axon pods that can run at once: every one holds up to maxThreads Valkey connections. */}}
{{- define "axon.maxPods" -}}
{{- if .Values.autoscaling.enabled -}}{{ int64 .Values.autoscaling.maxReplicas }}{{- else -}}{{ int64 .Values.replicaCount }}{{- end -}}
{{- end -}}

{{- define "axon.valkey.maxclients" -}}
{{- $need := add (mul (int64 .Values.axon.maxThreads) (include "axon.maxPods" . | int64)) 64 -}}
{{- if .Values.valkey.maxclients -}}
{{- $given := int64 .Values.valkey.maxclients -}}
{{- if lt $given $need -}}
{{- fail (printf "valkey.maxclients=%d is below axon.maxThreads x the most axon pods + 64 = %d: busy axon threads would be refused connections" $given $need) -}}
{{- end -}}
{{- $given -}}
{{- else -}}
{{- max 10000 $need -}}
{{- end -}}
{{- end -}}

{{- define "axon.terminationGrace" -}}
{{- $min := add (int64 .Values.preStopSleepSeconds) (int64 .Values.axon.drainSeconds) -}}
{{- if .Values.terminationGracePeriodSeconds -}}
{{- $g := int64 .Values.terminationGracePeriodSeconds -}}
{{- if le $g $min -}}
{{- fail (printf "terminationGracePeriodSeconds=%d must be above preStopSleepSeconds + axon.drainSeconds = %d, or open streams are killed mid-drain" $g $min) -}}
{{- end -}}
{{- $g -}}
{{- else -}}
{{- add $min 10 -}}
{{- end -}}
{{- end -}}

{{/* Secret holding the client keys, and its key. */}}
{{- define "axon.apiKeys.secret" -}}
{{- default (include "axon.fullname" .) .Values.apiKeys.existingSecret -}}
{{- end -}}
{{- define "axon.apiKeys.key" -}}
{{- if .Values.apiKeys.existingSecret -}}{{ .Values.apiKeys.existingSecretKey }}{{- else -}}api-keys{{- end -}}
{{- end -}}

{{/* Secret holding the seal keys (AXON_SEAL_KEYS_FILE), and its key. */}}
{{- define "axon.seal.secret" -}}
{{- default (include "axon.fullname" .) .Values.seal.existingSecret -}}
{{- end -}}
{{- define "axon.seal.key" -}}
{{- if .Values.seal.existingSecret -}}{{ .Values.seal.existingSecretKey }}{{- else -}}seal-keys{{- end -}}
{{- end -}}

{{- define "axon.anthropic.enabled" -}}
{{- if or .Values.anthropic.apiKey .Values.anthropic.existingSecret -}}true{{- end -}}
{{- end -}}
{{- define "axon.anthropic.secret" -}}
{{- default (include "axon.fullname" .) .Values.anthropic.existingSecret -}}
{{- end -}}
{{- define "axon.anthropic.key" -}}
{{- if .Values.anthropic.existingSecret -}}{{ .Values.anthropic.existingSecretKey }}{{- else -}}anthropic-api-key{{- end -}}
{{- end -}}

{{- define "axon.vllm.enabled" -}}
{{- if or .Values.vllm.apiKey .Values.vllm.existingSecret -}}true{{- end -}}
{{- end -}}
{{- define "axon.vllm.secret" -}}
{{- default (include "axon.fullname" .) .Values.vllm.existingSecret -}}
{{- end -}}
{{- define "axon.vllm.key" -}}
{{- if .Values.vllm.existingSecret -}}{{ .Values.vllm.existingSecretKey }}{{- else -}}vllm-api-key{{- end -}}
{{- end -}}

{{/* The Valkey password's Secret and key; empty name: no password (external only). */}}
{{- define "axon.valkey.secret" -}}
{{- if .Values.valkey.enabled -}}
{{- default (include "axon.valkey.fullname" .) .Values.valkey.existingSecret -}}
{{- else if .Values.valkey.external.existingSecret -}}
{{- .Values.valkey.external.existingSecret -}}
{{- else if .Values.valkey.external.password -}}
{{- include "axon.valkey.fullname" . -}}
{{- end -}}
{{- end -}}
{{- define "axon.valkey.key" -}}
{{- if and .Values.valkey.enabled .Values.valkey.existingSecret -}}{{ .Values.valkey.existingSecretKey }}
{{- else if and (not .Values.valkey.enabled) .Values.valkey.external.existingSecret -}}{{ .Values.valkey.external.existingSecretKey }}
{{- else -}}password{{- end -}}
{{- end -}}

{{/*
AXON_VALKEY_URL. The password is never written here: $(AXON_VALKEY_PASSWORD)
is Kubernetes' env expansion of the secretKeyRef'd variable defined just
before it in the container's env list.
*/}}
{{- define "axon.valkey.url" -}}
{{- $auth := "" -}}
{{- if include "axon.valkey.secret" . -}}{{- $auth = ":$(AXON_VALKEY_PASSWORD)@" -}}{{- end -}}
{{- if .Values.valkey.enabled -}}
{{- printf "redis://%s%s:%d/0" $auth (include "axon.valkey.fullname" .) (int64 .Values.valkey.port) -}}
{{- else -}}
{{- /* The password goes after the scheme: redis://, redis+cluster:// or redis+sentinel://. */ -}}
{{- $parts := splitn "://" 2 .Values.valkey.external.url -}}
{{- printf "%s://%s%s" $parts._0 $auth $parts._1 -}}
{{- end -}}
{{- end -}}

{{/* Names handed to axon through lighttpd's bin-copy-environment beyond the image's fixed list. */}}
{{- define "axon.passEnv" -}}
{{- $names := list -}}
{{- range $k, $v := .Values.axon.env -}}{{- $names = append $names $k -}}{{- end -}}
{{- range .Values.extraSecretEnv -}}{{- $names = append $names .name -}}{{- end -}}
{{- $names | uniq | join "," -}}
{{- end -}}

{{/* Every cross-value rule, in one place; rendered (as nothing) by the Deployment. */}}
{{- define "axon.validate" -}}
{{- if not (regexMatch "^(/[A-Za-z0-9._~-]+)*$" .Values.basePath) -}}
{{- fail (printf "basePath=%q: expected \"\" or a prefix like /axon (segments of letters, digits and -._~, no trailing slash)" .Values.basePath) -}}
{{- end -}}
{{- if not (kindIs "slice" .Values.apiKeys.keys) -}}
{{- fail "apiKeys.keys must be a list of keys" -}}
{{- end -}}
{{- range .Values.apiKeys.keys -}}
{{- if not (regexMatch "^[!-+\\--~]+$" (toString .)) -}}
{{- fail "apiKeys.keys: a key must be printable ASCII without spaces or commas" -}}
{{- end -}}
{{- end -}}
{{- if and .Values.apiKeys.keys .Values.apiKeys.existingSecret -}}
{{- fail "apiKeys: set keys or existingSecret, not both" -}}
{{- end -}}
{{- /*
seal.keys as axon's seal_keyring_parse (src/seal.c) takes them, so a bad
entry stops the install rather than every pod: id 1 to 16 of [A-Za-z0-9_-],
a key of 32 bytes in base64 (43 characters and one "="), no id twice, at most
16 (SEAL_MAX_KEYS). Messages name an entry by its place and id, never its key.
*/ -}}
{{- if not (kindIs "slice" .Values.seal.keys) -}}
{{- fail "seal.keys must be a list of id:key entries" -}}
{{- end -}}
{{- if gt (len .Values.seal.keys) 16 -}}
{{- fail (printf "seal.keys: %d entries, axon holds at most 16" (len .Values.seal.keys)) -}}
{{- end -}}
{{- $sealIds := list -}}
{{- range $i, $e := .Values.seal.keys -}}
{{- $e = toString $e -}}
{{- $id := regexFind "^[A-Za-z0-9_-]{1,16}:" $e | trimSuffix ":" -}}
{{- if not $id -}}
{{- fail (printf "seal.keys: entry %d must be id:key, the id 1 to 16 of A-Z a-z 0-9 _ -" (add1 $i)) -}}
{{- end -}}
{{- if not (regexMatch "^[A-Za-z0-9_-]{1,16}:[A-Za-z0-9+/]{43}=$" $e) -}}
{{- fail (printf "seal.keys: entry %d (%s) must be id:key, the key 32 bytes in base64 (openssl rand -base64 32)" (add1 $i) $id) -}}
{{- end -}}
{{- if has $id $sealIds -}}
{{- fail (printf "seal.keys: key id %q is given twice" $id) -}}
{{- end -}}
{{- $sealIds = append $sealIds $id -}}
{{- end -}}
{{- if and .Values.seal.keys .Values.seal.existingSecret -}}
{{- fail "seal: set keys or existingSecret, not both" -}}
{{- end -}}
{{- if and .Values.anthropic.apiKey .Values.anthropic.existingSecret -}}
{{- fail "anthropic: set apiKey or existingSecret, not both" -}}
{{- end -}}
{{- if and .Values.vllm.apiKey .Values.vllm.existingSecret -}}
{{- fail "vllm: set apiKey or existingSecret, not both" -}}
{{- end -}}
{{- if and .Values.models.conf .Values.models.existingConfigMap -}}
{{- fail "models: set conf or existingConfigMap, not both" -}}
{{- end -}}
{{- range $k, $v := .Values.axon.env -}}
{{- if not (regexMatch "^[A-Za-z_][A-Za-z0-9_]*$" $k) -}}
{{- fail (printf "axon.env: %q is not a variable name" $k) -}}
{{- end -}}
{{- if has $k (list "AXON_VALKEY_URL" "AXON_BASE_PATH" "AXON_API_KEYS" "AXON_API_KEYS_FILE" "ANTHROPIC_API_KEY" "ANTHROPIC_API_KEY_FILE" "AXON_VLLM_API_KEY" "AXON_MODELS_FILE" "AXON_PASS_ENV" "AXON_SEAL_KEYS" "AXON_SEAL_KEYS_FILE") -}}
{{- fail (printf "axon.env: %s is set by the chart from other values (basePath, apiKeys, seal, anthropic, vllm, models, valkey)" $k) -}}
{{- end -}}
{{- end -}}
{{- range .Values.extraSecretEnv -}}
{{- if not (and .name .existingSecret .key) -}}
{{- fail "extraSecretEnv: every entry needs name, existingSecret and key" -}}
{{- end -}}
{{- if not (regexMatch "^[A-Za-z_][A-Za-z0-9_]*$" .name) -}}
{{- fail (printf "extraSecretEnv: %q is not a variable name" .name) -}}
{{- end -}}
{{- end -}}
{{- if lt (int64 .Values.axon.maxThreads) (int64 .Values.axon.threads) -}}
{{- fail "axon.maxThreads must be at least axon.threads" -}}
{{- end -}}
{{- $_ := include "axon.terminationGrace" . -}}
{{- if .Values.autoscaling.enabled -}}
{{- if gt (int64 .Values.autoscaling.minReplicas) (int64 .Values.autoscaling.maxReplicas) -}}
{{- fail "autoscaling.minReplicas must not exceed autoscaling.maxReplicas" -}}
{{- end -}}
{{- if not (dig "requests" "cpu" "" .Values.resources) -}}
{{- fail "autoscaling needs resources.requests.cpu: CPU utilization is a percentage of it" -}}
{{- end -}}
{{- end -}}
{{- if .Values.valkey.enabled -}}
{{- $pct := int64 .Values.valkey.maxmemoryPercent -}}
{{- if or (lt $pct 10) (gt $pct 90) -}}
{{- fail (printf "valkey.maxmemoryPercent=%d: expected 10 to 90 (the rest of the limit is Valkey's own overhead)" $pct) -}}
{{- end -}}
{{- $limit := include "axon.valkey.limitBytes" . | int64 -}}
{{- $max := include "axon.valkey.maxmemoryBytes" . | int64 -}}
{{- if ge $max $limit -}}
{{- fail (printf "valkey.maxmemory (%d bytes) must be below valkey.resources.limits.memory (%d bytes), or Valkey is OOM-killed before it refuses writes" $max $limit) -}}
{{- end -}}
{{- $_ := include "axon.valkey.maxclients" . -}}
{{- else -}}
{{- $url := required "valkey.external.url is required when valkey.enabled=false (redis://host[:port][/db], redis+cluster://host:port[,host:port...] or redis+sentinel://host:port[,host:port...]/master[/db]; the password in a Secret)" .Values.valkey.external.url -}}
{{- /* The forms AXON_VALKEY_URL accepts (docs/configuration.md), without a password. */ -}}
{{- $hp := "[A-Za-z0-9.-]+(:[0-9]{1,5})?" -}}
{{- $single := printf "^redis://%s(/[0-9]+)?$" $hp -}}
{{- $cluster := printf "^redis[+]cluster://%s(,%s)*/?$" $hp $hp -}}
{{- $sentinel := printf "^redis[+]sentinel://%s(,%s)*/[A-Za-z0-9._-]{1,64}(/[0-9]+)?$" $hp $hp -}}
{{- if not (or (regexMatch $single $url) (regexMatch $cluster $url) (regexMatch $sentinel $url)) -}}
{{- fail (printf "valkey.external.url=%q: expected redis://host[:port][/db], redis+cluster://host:port[,host:port...] or redis+sentinel://host:port[,host:port...]/master[/db], with no user or password (put the password in valkey.external.password or existingSecret)" $url) -}}
{{- end -}}
{{- if and .Values.valkey.external.password .Values.valkey.external.existingSecret -}}
{{- fail "valkey.external: set password or existingSecret, not both" -}}
{{- end -}}
{{- end -}}
{{- end -}}
