{{- define "soccerpredict.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "soccerpredict.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "soccerpredict.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* The container every workload runs: the host binary with the shared config and secrets. */}}
{{- define "soccerpredict.container" -}}
- name: {{ .name }}
  image: "{{ .root.Values.image.repository }}:{{ .root.Values.image.tag }}"
  imagePullPolicy: {{ .root.Values.image.pullPolicy }}
  args: {{ toJson .args }}
  env:
    - name: SOCCERPREDICT_CONFIG
      value: /opt/soccerpredict/configs/production.yaml,/etc/soccerpredict/values.yaml
    - name: SOCCERPREDICT_STORE__DSN
      valueFrom:
        secretKeyRef: {name: {{ .root.Values.secrets.postgres.name }}, key: {{ .root.Values.secrets.postgres.key }}}
    - name: SOCCERPREDICT_QUEUE__URL
      valueFrom:
        secretKeyRef: {name: {{ .root.Values.secrets.rabbitmq.name }}, key: {{ .root.Values.secrets.rabbitmq.key }}}
    {{- with .root.Values.secrets.webhooks }}
    - name: SOCCERPREDICT_WEBHOOKS__SECRET
      valueFrom:
        secretKeyRef: {name: {{ .name }}, key: {{ .key }}}
    {{- end }}
    - name: SOCCERPREDICT_CACHE__ADDR
      value: {{ .root.Values.redis.addr | quote }}
    {{- range $plugin, $digest := .root.Values.pluginDigests }}
    {{- if $digest }}
    - name: SOCCERPREDICT_PLUGINS__{{ upper $plugin }}__SHA256
      value: {{ $digest | quote }}
    {{- end }}
    {{- end }}
  {{- with .resources }}
  resources: {{ toJson . }}
  {{- end }}
  {{- with .probePort }}
  ports:
    - {name: probes, containerPort: {{ . }}}
  livenessProbe:
    httpGet: {path: /healthz, port: probes}
    periodSeconds: 10
  readinessProbe:
    # Not ready while the worker holds its jobs waiting for the store or a plugin.
    httpGet: {path: /readyz, port: probes}
    periodSeconds: 5
  {{- end }}
  securityContext:
    {{- include "soccerpredict.containerSecurity" . | nindent 4 }}
  volumeMounts:
    - {name: config, mountPath: /etc/soccerpredict, readOnly: true}
    - {name: data, mountPath: /var/lib/soccerpredict}
    - {name: tmp, mountPath: /tmp}
{{- end -}}

{{- define "soccerpredict.volumes" -}}
- name: config
  configMap:
    name: {{ include "soccerpredict.fullname" . }}-config
- name: data
  emptyDir: {}
{{/* The root file system is read-only: go-plugin's sockets, the plugins'
fast-path sockets and their shared answer regions live in /tmp, in memory. */}}
- name: tmp
  emptyDir: {medium: Memory, sizeLimit: 64Mi}
{{- end -}}


{{/* The pod-level part every workload shares: its service account (no API
token: the host never talks to the Kubernetes API) and what the "restricted"
Pod Security Standard asks of a pod. */}}
{{- define "soccerpredict.podSpec" -}}
serviceAccountName: {{ include "soccerpredict.serviceAccountName" . }}
automountServiceAccountToken: false
securityContext:
  runAsNonRoot: true
  runAsUser: 65532
  runAsGroup: 65532
  fsGroup: 65532
  seccompProfile: {type: RuntimeDefault}
{{- end -}}

{{- define "soccerpredict.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{ default (include "soccerpredict.fullname" .) .Values.serviceAccount.name }}
{{- else -}}
{{ default "default" .Values.serviceAccount.name }}
{{- end -}}
{{- end -}}

{{/* What every container runs with: the image's user, nothing more. */}}
{{- define "soccerpredict.containerSecurity" -}}
runAsNonRoot: true
runAsUser: 65532
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities: {drop: ["ALL"]}
seccompProfile: {type: RuntimeDefault}
{{- end -}}
